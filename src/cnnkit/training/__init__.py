"""Training: the Keras-style Model, callbacks, metrics, summaries and sizing calculators."""

from cnnkit.training import callbacks as callbacks
from cnnkit.training.model import Model as Model
from cnnkit.training.serialization import load_model as load_model

from cnnkit.training.summary import ReceptiveField as ReceptiveField
from cnnkit.training.summary import Summary as Summary
from cnnkit.training.summary import count_macs as count_macs
from cnnkit.training.summary import count_parameters as count_parameters
from cnnkit.training.summary import receptive_field as receptive_field
from cnnkit.training.summary import summary as summary
