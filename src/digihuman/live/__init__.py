"""Live avatar sessions: a trained avatar speaking in real time (API.md §7).

    stream.py    MediaChunk, Subscription, Broadcast: what transports consume
    session.py   LiveSession: the clock-paced producer of chunks (idle motion, speech, interrupts)
    speech.py    utterances: text/chat/streamed audio -> sound and chosen mouths, sentence by sentence
    frames.py    the per-frame picture: background ping-pong + composited library mouth
    fmp4.py      the fragmented-MP4 muxer (H.264 + AAC) the WebSocket sends
    registry.py  sessions of this process: create, look up by token, limits, idle timeout
"""
