"""A supervisor on a call, and a call sent to another skill, on FreeSWITCH: the driver's `spy`
and `transfer`.

spy       ring the supervisor's phone; once answered it eavesdrops on the agent's leg
          (mod_dptools' eavesdrop, its keys off): "listen" silent, "whisper" mixed into
          what the agent hears only, "barge" into what both hear. It ends with the agent's
          leg.
transfer  the caller leaves the agent for the hold loop (`hold XML cc-hold`) with the new
          skill kept on its channel; the agent's leg is hung up without ending the call.
"""

from __future__ import annotations

from collections.abc import Mapping

# eavesdrop's channel variables per mode: what the supervisor says is mixed into the agent
# leg's read (heard by the caller: "aleg") and/or into what is written to it (the agent: "bleg")
SPY_MODES: Mapping[str, tuple[str, ...]] = {
    "listen": (),
    "whisper": ("eavesdrop_whisper_bleg=true",),
    "barge": ("eavesdrop_whisper_aleg=true", "eavesdrop_whisper_bleg=true"),
}


def spy_originate(dial: str, agent_leg: str, agent_id: str, mode: str) -> str:
    """The originate that rings the supervisor's phone into an eavesdrop on `agent_leg`."""
    if mode not in SPY_MODES:
        raise ValueError(f"spy mode must be one of {', '.join(SPY_MODES)}, not {mode!r}")
    variables = ",".join(
        [
            f"origination_caller_id_name={mode}",
            f"origination_caller_id_number={agent_id}",
            "eavesdrop_enable_dtmf=false",
            "ignore_early_media=true",
            *SPY_MODES[mode],
        ]
    )
    return f"originate {{{variables}}}{dial} &eavesdrop({agent_leg})"


def transfer_commands(call_id: str, skill: str) -> list[str]:
    """API commands that put a connected caller back to waiting with `skill` on its channel
    (so a restarted engine's snapshot restores it)."""
    return [
        f"uuid_setvar_multi {call_id} cc_skill={skill};cc_engine_agent=;cc_connected=",
        f"uuid_transfer {call_id} hold XML cc-hold",
    ]
