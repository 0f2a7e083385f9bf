"""A model whose accuracy is known exactly, with a configurable fraction of corrupted predictions.

``oracle@test`` trains like a tiny position-wise model, but ``predict`` reads the
targets from the batch (it is a test double, not a model) and puts all
probability on them, so its accuracy is 1.0; ``RNNBENCH_TEST_CORRUPT`` (a
fraction, default 0) of the positions, chosen by a seeded generator, predict a
wrong class instead. The variable is not part of the case id, so a corrupted run
is the same case as a clean one, as a commit that breaks a model would be.
"""

import os

import numpy as np

import rnnbench
from rnnbench.torch_model import TorchModel
from testplugins.tiny import PositionwiseCore


class OracleModel(TorchModel):
    _calls = 0

    def predict(self, batch):
        targets = batch.targets.cpu().numpy()
        classes = self.config.output_size
        fraction = float(os.environ.get("RNNBENCH_TEST_CORRUPT", "0"))
        rng = np.random.default_rng([self.config.seed, self._calls])
        self._calls += 1
        wrong = rng.random(targets.shape) < fraction
        predicted = np.where(wrong, (targets + 1) % classes, targets)
        return np.eye(classes, dtype=np.float32)[predicted]


def factory(config):
    return OracleModel(config, lambda c: PositionwiseCore(c.hidden), lambda T, B: 2.0 * B * T * config.hidden ** 2)


@rnnbench.hookimpl
def rnnbench_register_models(register):
    register(rnnbench.ModelSpec(arch="oracle", backend="test", family="other", factory=factory,
                                devices=("cpu",), dtypes=("float32",)))
