"""A pjsua2 softphone process: agents that register and auto-answer, and callers.

Run as a program; it speaks JSON lines: commands on stdin, events on stdout.
pjsua2-python allows only 4 calls per process, so a test or the demo runs a few of these
(see callcenter/simulation.py, which drives them).

    python tools/softphone.py --registrar 127.0.0.1:15060 --port 16000 \
        --account 1001:SECRET --play tone700.wav --record-dir /tmp/rec

Commands: {"cmd": "transfer", "user": "1001", "to": "110"}  (blind, SIP REFER)
          {"cmd": "dtmf", "user": "13800000000", "digits": "21"}  (RFC 4733)
          {"cmd": "answer_mode", "user": "1001", "mode": "answer|ignore|reject", "delay": 0.2,
           "code": 486}  (code: the SIP response of reject)
          {"cmd": "call", "user": "1001", "to": "12345", "play": "file.wav"}
          {"cmd": "hangup", "user": "1001"}   {"cmd": "quit"}
Events:   {"event": "registered", "user": ..., "code": 200}
          {"event": "incoming", "user": ..., "from": ...}
          {"event": "confirmed", "user": ..., "call": n}
          {"event": "disconnected", "user": ..., "call": n, "recording": path, "seconds": s}
          {"event": "dtmf", "user": ..., "digits": "21"}  (digits this phone sent)
          {"event": "dtmf_received", "user": ..., "call": n, "digit": "5"}  (RFC 4733 from
           the far end, one event per digit)
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import random
import select
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import pjsua2 as pj


def emit(**fields: Any) -> None:
    """One JSON event on stdout, stamped with the wall clock (`at`, epoch seconds)."""
    fields.setdefault("at", time.time())
    sys.stdout.write(json.dumps(fields, ensure_ascii=False) + "\n")
    sys.stdout.flush()


@dataclass
class Behaviour:
    mode: str = "answer"  # answer | ignore | reject
    code: int = 486  # the SIP response of "reject" (e.g. 486, 488, 603, 480)
    delay: float = 0.2
    play: str = ""
    talk: tuple[float, float] | None = None  # hang up answered calls after this many seconds


@dataclass
class Pending:
    due: float
    call: Call


@dataclass
class State:
    """Every reference to a Call object lives here (or in a callback's or command's frame),
    so a call's object can be dropped the moment the call ends; see State.forget."""

    record_dir: str
    calls: dict[int, Call] = field(default_factory=dict)
    answers: list[Pending] = field(default_factory=list)
    hangups: list[Pending] = field(default_factory=list)
    releases: list[pj.AudioMedia] = field(default_factory=list)  # players and recorders
    seq: int = 0

    def forget(self, call: Call) -> None:
        """Drop every reference to an ended call (called from its DISCONNECTED callback).

        pjsua reuses call ids (4 of them here). A pjsua2 Call object that outlives its call
        still holds the old id, and its destructor clears that id's user data and hangs up
        whatever call has the id by then: the next caller's call lost its callbacks (never
        answered, its player and recorder never freed) or got a 603. Freed in the callback,
        the object dies while the id is still its own. Its player and recorder are kept
        for the main loop (destroying a recorder inside a callback leaves the WAV header
        empty)."""
        self.calls.pop(call.number, None)
        self.answers = [p for p in self.answers if p.call is not call]
        self.hangups = [p for p in self.hangups if p.call is not call]
        for media in (call.player, call.recorder):
            if media is not None:
                self.releases.append(media)
        call.player = None
        call.recorder = None


class Call(pj.Call):  # type: ignore[misc]
    def __init__(self, account: Account, call_id: int = pj.PJSUA_INVALID_ID) -> None:
        super().__init__(account, call_id)
        self.account = account
        self.state = account.state
        self.state.seq += 1
        self.number = self.state.seq
        self.player: pj.AudioMediaPlayer | None = None
        self.recorder: pj.AudioMediaRecorder | None = None
        self.recording = ""
        self.confirmed_at = 0.0
        self.play = account.behaviour.play
        self.incoming = call_id != pj.PJSUA_INVALID_ID

    def onCallState(self, prm: Any) -> None:
        info = self.getInfo()
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED:
            self.confirmed_at = time.monotonic()
            emit(event="confirmed", user=self.account.user, call=self.number)
            talk = self.account.behaviour.talk
            if talk is not None and self.incoming:
                due = self.confirmed_at + random.uniform(*talk)
                self.state.hangups.append(Pending(due, self))
        elif info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            seconds = time.monotonic() - self.confirmed_at if self.confirmed_at else 0.0
            emit(
                event="disconnected",
                user=self.account.user,
                call=self.number,
                code=info.lastStatusCode,
                recording=self.recording,
                seconds=round(seconds, 3),
            )
            self.state.forget(self)

    def onDtmfDigit(self, prm: Any) -> None:
        # a digit the far end sent in the media stream (RFC 4733)
        emit(event="dtmf_received", user=self.account.user, call=self.number, digit=prm.digit)

    def onCallMediaState(self, prm: Any) -> None:
        # An exception leaving a callback is printed and kept (sys.last_traceback), and with
        # it this Call object, past its call: report it instead.
        try:
            self._connect_media()
        except pj.Error as exc:
            emit(event="error", user=self.account.user, call=self.number, message=exc.info())

    def _connect_media(self) -> None:
        info = self.getInfo()
        for i, media in enumerate(info.media):
            if media.type != pj.PJMEDIA_TYPE_AUDIO or media.status != pj.PJSUA_CALL_MEDIA_ACTIVE:
                continue
            audio = self.getAudioMedia(i)
            # (Re)connect on every active media state: a re-INVITE (e.g. a connected-line
            # update after a transfer) gives the call a new audio port.
            if self.play and self.player is None:
                player = pj.AudioMediaPlayer()
                player.createPlayer(self.play, 0)
                self.player = player
            if self.player is not None:
                self.player.startTransmit(audio)
            if self.state.record_dir and self.recorder is None:
                self.recording = os.path.join(
                    self.state.record_dir, f"{self.account.user}-{os.getpid()}-{self.number}.wav"
                )
                recorder = pj.AudioMediaRecorder()
                recorder.createRecorder(self.recording)
                self.recorder = recorder
            if self.recorder is not None:
                audio.startTransmit(self.recorder)


class Account(pj.Account):  # type: ignore[misc]
    def __init__(self, user: str, state: State, behaviour: Behaviour) -> None:
        super().__init__()
        self.user = user
        self.state = state
        self.behaviour = behaviour

    def onRegState(self, prm: Any) -> None:
        emit(event="registered", user=self.user, code=prm.code)

    def onIncomingCall(self, prm: Any) -> None:
        call = Call(self, prm.callId)
        self.state.calls[call.number] = call
        info = call.getInfo()
        emit(event="incoming", user=self.user, call=call.number, remote=info.remoteUri)
        op = pj.CallOpParam()
        if self.behaviour.mode == "reject":
            op.statusCode = self.behaviour.code
            call.hangup(op)
            return
        op.statusCode = 180
        call.answer(op)
        if self.behaviour.mode == "answer":
            self.state.answers.append(Pending(time.monotonic() + self.behaviour.delay, call))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registrar", required=True, help="host:port of the PBX")
    parser.add_argument("--port", type=int, required=True, help="local SIP port")
    parser.add_argument("--rtp-port", type=int, default=0, help="first local RTP port")
    parser.add_argument(
        "--account", action="append", default=[], help="user:password (no password: a caller)"
    )
    parser.add_argument("--play", default="", help="WAV played into every call")
    parser.add_argument("--record-dir", default="", help="record what each call hears here")
    parser.add_argument("--answer-delay", type=float, default=0.2)
    parser.add_argument("--talk", default="", help="MIN:MAX seconds before an agent hangs up")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.uaConfig.maxCalls = 4
    cfg.logConfig.level = 0
    cfg.logConfig.consoleLevel = 0
    cfg.medConfig.noVad = True
    ep.libInit(cfg)
    tcfg = pj.TransportConfig()
    tcfg.port = args.port
    tcfg.boundAddress = "127.0.0.1"
    ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
    ep.libStart()
    ep.audDevManager().setNullDev()

    state = State(record_dir=args.record_dir)
    if args.record_dir:
        os.makedirs(args.record_dir, exist_ok=True)
    random.seed(args.seed or os.getpid())
    talk = tuple(float(x) for x in args.talk.split(":")) if args.talk else None
    accounts: dict[str, Account] = {}
    for spec in args.account:
        user, _, password = spec.partition(":")
        acfg = pj.AccountConfig()
        acfg.idUri = f"sip:{user}@{args.registrar}"
        if password:  # an agent registers; a caller (no password) just places calls
            acfg.regConfig.registrarUri = f"sip:{args.registrar}"
            acfg.regConfig.timeoutSec = 300
            acfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", user, 0, password))
        if args.rtp_port:
            acfg.mediaConfig.transportConfig.port = args.rtp_port + 40 * len(accounts)
            acfg.mediaConfig.transportConfig.portRange = 40
        acfg.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
        account = Account(
            user,
            state,
            Behaviour(
                delay=args.answer_delay,
                play=args.play,
                talk=(talk[0], talk[-1]) if talk else None,
            ),
        )
        account.create(acfg)
        accounts[user] = account
    emit(event="ready", pid=os.getpid())

    buffer = ""
    running = True
    while running:
        ep.libHandleEvents(10)
        tick(state)
        readable, _, _ = select.select([sys.stdin], [], [], 0)
        if not readable:
            continue
        chunk = os.read(sys.stdin.fileno(), 65536).decode()
        if not chunk:
            break
        buffer += chunk
        while "\n" in buffer:
            line, buffer = buffer.split("\n", 1)
            if line.strip():
                running = handle(json.loads(line), accounts, state)
    shut_down(ep, state, accounts)
    return 0


def tick(state: State) -> None:
    """Due answers and hang-ups, then free ended calls' media. A function, so that no Call
    object stays referenced from a loop variable of main() after its call ended."""
    now = time.monotonic()
    for pending in [p for p in state.answers if p.due <= now]:
        state.answers.remove(pending)
        op = pj.CallOpParam()
        op.statusCode = 200
        with contextlib.suppress(pj.Error):  # the caller went away while "picking up"
            pending.call.answer(op)
    for pending in [p for p in state.hangups if p.due <= now]:
        state.hangups.remove(pending)
        with contextlib.suppress(pj.Error):  # already gone
            pending.call.hangup(pj.CallOpParam())
    state.releases.clear()


def shut_down(ep: pj.Endpoint, state: State, accounts: dict[str, Account]) -> None:
    """End the calls, then destroy every pjsua2 object before the library: a Call,
    Account or player destroyed after libDestroy() aborts the process (an assertion in
    pjsua_call_set_user_data)."""
    for number in list(state.calls):  # (no loop variable holding a Call past its end)
        with contextlib.suppress(pj.Error, KeyError):  # KeyError: it ended meanwhile
            state.calls[number].hangup(pj.CallOpParam())
    deadline = time.monotonic() + 5.0
    while state.calls and time.monotonic() < deadline:
        ep.libHandleEvents(10)
    while state.calls:  # never ended: drop it while the library lives
        state.forget(next(iter(state.calls.values())))
    state.answers.clear()
    state.hangups.clear()
    state.releases.clear()
    for account in accounts.values():
        with contextlib.suppress(pj.Error):
            account.shutdown()
    accounts.clear()
    for kept in ("last_type", "last_value", "last_traceback"):  # a callback's printed error
        if hasattr(sys, kept):  # holds its frames, and a Call with them
            delattr(sys, kept)
    gc.collect()
    for _ in range(20):  # let the un-REGISTERs and BYEs go out
        ep.libHandleEvents(10)
    ep.libDestroy()


def handle(command: dict[str, Any], accounts: dict[str, Account], state: State) -> bool:
    kind = command.get("cmd")
    if kind == "quit":
        return False
    account = accounts.get(str(command.get("user", "")))
    if account is None:
        emit(event="error", message=f"unknown user {command.get('user')!r}")
        return True
    if kind == "answer_mode":
        account.behaviour.mode = command.get("mode", "answer")
        account.behaviour.delay = float(command.get("delay", account.behaviour.delay))
        account.behaviour.code = int(command.get("code", 486))
        if "talk" in command:
            low, high = command["talk"] or (0, 0)
            account.behaviour.talk = (float(low), float(high)) if command["talk"] else None
        emit(event="ok", cmd=kind, user=account.user)
    elif kind == "call":
        call = Call(account)
        call.play = command.get("play", account.behaviour.play)
        state.calls[call.number] = call
        host = account.getInfo().uri.split("@", 1)[1]
        op = pj.CallOpParam(True)
        call.makeCall(f"sip:{command['to']}@{host}", op)
        emit(event="calling", user=account.user, call=call.number, to=command["to"])
    elif kind == "dtmf":
        # RFC 2833 / 4733 digits on this account's active call
        for call in list(state.calls.values()):
            if call.account is account and call.isActive():
                call.dialDtmf(str(command["digits"]))
                emit(event="dtmf", user=account.user, digits=command["digits"])
                break
        else:
            emit(event="error", message=f"{account.user}: no active call for DTMF")
    elif kind == "transfer":
        # blind transfer (SIP REFER) of this account's active call to `to`
        host = account.getInfo().uri.split("@", 1)[1]
        for call in list(state.calls.values()):
            if call.account is account and call.isActive():
                call.xfer(f"sip:{command['to']}@{host}", pj.CallOpParam(True))
                emit(event="transferring", user=account.user, to=command["to"])
                break
        else:
            emit(event="error", message=f"{account.user}: no active call to transfer")
    elif kind == "hangup":
        for call in list(state.calls.values()):
            if call.account is account:
                with contextlib.suppress(pj.Error):
                    call.hangup(pj.CallOpParam())
        emit(event="ok", cmd=kind, user=account.user)
    return True


if __name__ == "__main__":
    sys.exit(main())
