"""Work done while the caller is still talking, so that less is left when they stop.

``stt``: Whisper transcribes the growing utterance (partials), and confirms the last one
when only silence followed it. ``prefill``: the LLM evaluates the turn's prompt on each
partial. ``turns``: a pause's transcript starts the reply, held until Smart Turn says the
turn is over (dropped if the caller goes on or said something else).
"""
