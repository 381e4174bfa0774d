"""Training utilities: model summaries and sizing calculators (the Keras-style Model comes next)."""

from cnnkit.training.summary import ReceptiveField as ReceptiveField
from cnnkit.training.summary import Summary as Summary
from cnnkit.training.summary import count_macs as count_macs
from cnnkit.training.summary import count_parameters as count_parameters
from cnnkit.training.summary import receptive_field as receptive_field
from cnnkit.training.summary import summary as summary
