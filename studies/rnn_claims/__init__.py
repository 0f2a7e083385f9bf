"""The ``rnn-claims`` study: what an overview of recurrent networks says, checked claim by claim."""
