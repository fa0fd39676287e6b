"""mlx-audio internals our CPU speed-up relies on (pinned by ``tests/test_library_pins.py``).

mlx-audio's Kokoro decoder runs every weight-normalised convolution through
``istftnet.ConvWeighted.__call__(self, x, conv)``, handing it ``mx.conv1d`` or
``mx.conv_transpose1d``. MLX's CPU convolutions are slow; swapping the ``conv`` it is
handed for a faster equivalent speeds the whole decoder up without touching its weights.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping


def route_kokoro_convolutions(replacements: Mapping[Callable, Callable]) -> None:
    """Make Kokoro's ``ConvWeighted`` layers call ``replacements[conv]`` instead of ``conv``."""
    from mlx_audio.tts.models.kokoro import istftnet

    original = istftnet.ConvWeighted.__call__

    def call(self, x, conv):
        return original(self, x, replacements.get(conv, conv))

    call.__doc__ = original.__doc__
    istftnet.ConvWeighted.__call__ = call
