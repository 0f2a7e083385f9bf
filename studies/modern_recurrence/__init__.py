"""The ``modern-recurrence`` study: claims of the recurrent models that came back, checked on this machine."""
