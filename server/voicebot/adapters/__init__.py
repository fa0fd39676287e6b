"""The only modules that touch other libraries' private parts, one per library.

Each wraps the few internals we rely on behind a small public function or base class, and
``tests/test_library_pins.py`` fails first if an upgrade changes one of them. Import the
submodule you need: the Kokoro worker imports ``misaki`` here and must not load Pipecat.
"""
