"""Saving and loading: crash-safe, verified checkpoints (safetensors, no pickle)."""

from cnnkit.io.checkpoint import CheckpointError as CheckpointError
from cnnkit.io.checkpoint import load_checkpoint as load_checkpoint
from cnnkit.io.checkpoint import read_checkpoint as read_checkpoint
from cnnkit.io.checkpoint import save_checkpoint as save_checkpoint
