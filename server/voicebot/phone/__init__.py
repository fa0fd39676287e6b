"""Phone calls: Twilio Media Streams into the same bot as a browser call.

Twilio calls ``POST /twilio/voice`` when the restaurant's number rings; the answer is
TwiML that connects the call's audio to ``WS /twilio/media`` with a one-time token
(:mod:`voicebot.phone.lines`). The stream runs the same call as a browser's
(:func:`voicebot.bot.run_call`) with Pipecat's WebSocket transport and Twilio serializer
(8 kHz μ-law on the wire, 16 kHz inside), the keypad as words and a transfer to the
restaurant's own number. When the stream ends Twilio asks ``POST /twilio/after`` what to
do next: ``<Dial>`` the restaurant if the bot transferred the caller, else ``<Hangup/>``.
"""
