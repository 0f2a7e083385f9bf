"""The claims of ``rnn-claims``: the overview's sentences, quoted verbatim, each with its criterion.

The sentences come from the overview rnnbench was created from ("What are Recurrent Neural
Networks (RNNs)?"); the section each comes from is named after it. The criteria are
stated here, before anything runs, and each analysis module uses the same constants.
"""

from __future__ import annotations

from rnnbench.study_api import Claim

from rnnbench.studies.rnn_claims import decode, gradients, language, length, memory, speed

SOURCE = ("the overview 'What are Recurrent Neural Networks (RNNs)?' that rnnbench was created from"
          " (sections: How RNNs Work, Variants of RNNs, Advantages and Limitations of RNNs, Summary)")


def _quote(*sentences: tuple[str, str]) -> str:
    return " ".join(f"“{text}” ({section})" for text, section in sentences)


CLAIMS = (
    Claim(
        key="vanishing-gradients", number="1", title="Vanilla RNNs suffer vanishing gradients; LSTM and GRU fix it",
        quote=_quote(("Vanishing and exploding gradients during training", "Limitations of RNNs"),
                     ("Introduced memory cells and gates (input, output, forget) to combat vanishing gradients.",
                      "Variants of RNNs: LSTM")),
        experiment="Gradient-flow probe on copy: ‖∂L/∂h_t‖ against the distance from the loss, at initialisation"
                   " and after training, for rnn, lstm, gru and the Transformer's residual stream; fitted decay per step.",
        criterion=gradients.CRITERION, sweeps=("gradients", *gradients.REGIME_SWEEPS), analyze=gradients.analyze),
    Claim(
        key="long-term-dependencies", number="2", title="LSTM and GRU learn long-term dependencies a vanilla RNN cannot",
        quote=_quote(("Better at learning long-term dependencies.", "Variants of RNNs: LSTM"),
                     ("Hard to capture long-term dependencies", "Limitations of RNNs")),
        experiment="Copy and adding at growing delays, equal parameter counts; held-out score against delay and the"
                   " longest delay each model solves, beside chance.",
        criterion=memory.CRITERION_LONG, sweeps=("copy-delays", "adding-delays"), analyze=memory.analyze_long),
    Claim(
        key="memory-and-weight-sharing", number="3",
        title="A feedforward network has no memory; shared weights keep parameters independent of length",
        quote=_quote(("A Feedforward Neural Network (FNN) processes input independently—no memory of past inputs.",
                      "Traditional Neural Networks vs RNNs"),
                     ("Shared parameters across time = fewer parameters", "Advantages of RNNs")),
        experiment="The position-wise mlp (same embedding and head, no mixing across time) on copy beside the"
                   " recurrent models; parameter counts of every model against the sequence length, and of a"
                   " feedforward network over the whole window.",
        criterion=memory.CRITERION_MEMORY, sweeps=("copy-delays", "params"), analyze=memory.analyze_memory),
    Claim(
        key="sequential-training", number="4", title="Recurrent training is slow because it is sequential",
        quote=_quote(("Slow training due to sequential data processing", "Limitations of RNNs")),
        experiment="Train-step and forward time per token against sequence length for lstm, gru and the"
                   " Transformer at equal parameter counts, on this machine; ratios with bootstrap intervals; minGRU"
                   " run both ways (parallel scan, sequential loop) as the control for \"because sequential\".",
        criterion=speed.CRITERION, sweeps=("speed", speed.SEQUENTIAL_SWEEP), analyze=speed.analyze),
    Claim(
        key="transformers-better-lm", number="5", title="Transformers are better at language modeling",
        quote=_quote(("Less effective compared to newer models like Transformers", "Limitations of RNNs"),
                     ("Common replacements | Transformers in NLP tasks", "Summary table")),
        experiment="Character-level LM at equal parameter counts, at three model sizes, each under an equal"
                   " wall-clock and an equal training-FLOPs budget (equal parameters, not Languini Kitchen's equal"
                   " accelerator-hours with the size free); bits per character"
                   " on held-out text against parameter count.",
        criterion=language.CRITERION, sweeps=language.SWEEPS, analyze=language.analyze),
    Claim(
        key="constant-decode-state", number="6a",
        title="Counterpoint: recurrent decode cost and state stay constant; a Transformer's grow",
        quote=_quote(("At each time step, the network takes an input and updates its hidden state, which acts like"
                      " a memory summarizing past inputs.", "What are RNNs?")),
        experiment="Decode scenario at growing context: per-token step() latency and the bytes of state carried.",
        criterion=decode.CRITERION_DECODE, sweeps=("decode",), analyze=decode.analyze_decode),
    Claim(
        key="attention-wins-recall", number="6b", title="Counterpoint: attention wins associative recall",
        quote=_quote(("This hidden state is passed from one time step to the next, allowing the network to maintain"
                      " context across a sequence.", "What are RNNs?")),
        experiment="Multi-query associative recall at equal parameter counts; and the LSTM and GRU at widths 32 to"
                   " 256: accuracy against the bytes of state carried between tokens.",
        criterion=decode.CRITERION_RECALL, sweeps=("recall", "recall-widths"), analyze=decode.analyze_recall),
    Claim(
        key="length-generalisation", number="7", title="Shared weights generalise over sequence lengths",
        quote=_quote(("The core idea is that the same set of weights is reused across all time steps, which helps"
                      " generalize well over varying sequence lengths.", "What are RNNs?")),
        experiment="Trained at length T, evaluated at 2T and 4T on copy and selective copy; the control is a tanh"
                   " recurrence with its own weights at each position (unshared_rnn), no weight sharing.",
        criterion=length.CRITERION, sweeps=("lengthgen-copy", "lengthgen-selective"), analyze=length.analyze),
)
