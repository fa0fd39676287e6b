"""Kokoro text to speech: a Pipecat service (``service``) talking to an isolated worker
process (``worker``) over a small socket protocol (``protocol``), with interchangeable
engines (``engines``). Import from the submodules: the worker must not import Pipecat.
"""
