// The agent workspace's own phone (WebRTC): SIP.js over secure WebSocket to the media server,
// DTLS-SRTP media. Registers with the agent's SIP account (GET /api/agents/{id}/phone), rings
// (visible and audible) on an incoming call, answers, hangs up, mutes, holds, sends DTMF and
// shows the call's timer. An agent whose phone is a desk softphone sees none of this.
import { api, maskPhone, notify } from "./common.js";

const SIPJS = "/console/vendor/sip.js/index.js";
const $ = (id) => document.getElementById(id);

let user = null; // SIP.js SimpleUser
let connectedAt = 0;
let ringer = null;
let analyser = null;

function setState(text, className = "") {
  $("phone-state").textContent = text;
  $("phone-state").className = className;
}

function buttons(ringing, inCall) {
  $("phone-answer").disabled = !ringing;
  $("phone-hangup").disabled = !(ringing || inCall);
  $("phone-mute").disabled = !inCall;
  $("phone-hold").disabled = !inCall;
  for (const b of document.querySelectorAll("#phone-keypad button")) b.disabled = !inCall;
}

// Audible ring: two short beeps every two seconds from WebAudio (no sound file needed).
function startRinging() {
  stopRinging();
  const context = new AudioContext();
  const gain = context.createGain();
  gain.gain.value = 0;
  gain.connect(context.destination);
  const tone = context.createOscillator();
  tone.frequency.value = 440;
  tone.connect(gain);
  tone.start();
  const beep = () => {
    const t = context.currentTime;
    for (const start of [0, 0.5]) {
      gain.gain.setValueAtTime(0.2, t + start);
      gain.gain.setValueAtTime(0, t + start + 0.35);
    }
  };
  beep();
  ringer = { context, timer: setInterval(beep, 2000) };
}

function stopRinging() {
  if (!ringer) return;
  clearInterval(ringer.timer);
  ringer.context.close();
  ringer = null;
}

function showTimer() {
  if (!connectedAt) { $("phone-timer").textContent = ""; return; }
  const s = Math.floor((Date.now() - connectedAt) / 1000);
  $("phone-timer").textContent = `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

// The strongest frequency the agent hears now (Hz), from a WebAudio analyser on the remote
// stream; 0 when silent. Shown for support and read by the browser test.
function heardFrequency() {
  if (!analyser) return 0;
  const bins = new Float32Array(analyser.frequencyBinCount);
  analyser.getFloatFrequencyData(bins);
  let best = 0;
  for (let i = 1; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
  if (bins[best] < -80) return 0;
  return (best * analyser.context.sampleRate) / analyser.fftSize;
}

function listen() {
  const stream = user && user.remoteMediaStream;
  if (!stream || !stream.getAudioTracks().length) return;
  const context = new AudioContext();
  analyser = context.createAnalyser();
  analyser.fftSize = 8192;
  context.createMediaStreamSource(stream).connect(analyser);
}

function callEnded() {
  stopRinging();
  connectedAt = 0;
  if (analyser) { analyser.context.close(); analyser = null; }
  $("phone-ring").hidden = true;
  $("phone-mute").textContent = "静音";
  $("phone-hold").textContent = "保持";
  buttons(false, false);
  setState("已注册，等待来电", "up");
  showTimer();
}

export async function startPhone(agentId) {
  let account;
  try {
    account = await api(`/api/agents/${encodeURIComponent(agentId)}/phone`);
  } catch (e) {
    if (e.id === "agent.no_browser_phone") return; // a desk softphone: nothing to show
    $("phone").hidden = false;
    setState(`无法读取电话账号：${e.message}`, "down");
    return;
  }
  $("phone").hidden = false;
  let SIP;
  try {
    SIP = await import(SIPJS);
  } catch (e) {
    setState("浏览器电话组件（SIP.js）未安装，请管理员运行 tools/setup.sh", "down");
    notify("浏览器电话不可用：SIP.js 未安装", true);
    return;
  }
  user = new SIP.Web.SimpleUser(account.ws_url, {
    aor: account.sip_uri,
    media: { constraints: { audio: true, video: false }, remote: { audio: $("phone-audio") } },
    reconnectionAttempts: 1000000,
    reconnectionDelay: 4,
    sendDTMFUsingSessionDescriptionHandler: true, // RFC 4733 in the media stream
    userAgentOptions: {
      authorizationUsername: account.extension,
      authorizationPassword: account.password,
      displayName: account.display_name,
      sessionDescriptionHandlerFactoryOptions: {
        // no public STUN server: the media server is reached directly
        peerConnectionConfiguration: { iceServers: [] },
        iceGatheringTimeout: 500,
      },
    },
    delegate: {
      onServerConnect: () => user.register().catch((e) => setState(`注册失败：${e.message}`, "down")),
      onServerDisconnect: () => setState("与媒体服务器的连接已断开，正在重连", "down"),
      onRegistered: () => { if (!connectedAt && !ringer) setState("已注册，等待来电", "up"); },
      onUnregistered: () => setState("未注册", "down"),
      onCallReceived: () => {
        const who = user.session && user.session.remoteIdentity;
        $("phone-from").textContent = maskPhone(who ? (who.displayName || who.uri.user) : "");
        $("phone-ring").hidden = false;
        setState("来电振铃", "ring");
        buttons(true, false);
        startRinging();
      },
      onCallAnswered: () => {
        stopRinging();
        $("phone-ring").hidden = true;
        connectedAt = Date.now();
        setState("通话中", "up");
        buttons(false, true);
        listen();
      },
      onCallHangup: callEnded,
      onCallHold: (held) => {
        $("phone-hold").textContent = held ? "取消保持" : "保持";
        setState(held ? "保持中" : "通话中", "up");
      },
    },
  });
  $("phone-answer").addEventListener("click", () => user.answer().catch((e) => notify(`接听失败：${e.message}`, true)));
  $("phone-hangup").addEventListener("click", () => {
    const ringing = !!ringer;
    (ringing ? user.decline() : user.hangup()).catch((e) => notify(`挂断失败：${e.message}`, true));
  });
  $("phone-mute").addEventListener("click", () => {
    if (user.isMuted()) user.unmute(); else user.mute();
    $("phone-mute").textContent = user.isMuted() ? "取消静音" : "静音";
  });
  $("phone-hold").addEventListener("click", () => {
    (user.isHeld() ? user.unhold() : user.hold()).catch((e) => notify(`保持失败：${e.message}`, true));
  });
  for (const b of document.querySelectorAll("#phone-keypad button")) {
    b.addEventListener("click", () => user.sendDTMF(b.textContent).catch((e) => notify(`按键发送失败：${e.message}`, true)));
  }
  // a closed tab takes its registration with it (qualify catches a tab that could not say so)
  window.addEventListener("pagehide", () => { if (user) user.unregister().catch(() => {}); });
  setInterval(showTimer, 1000);
  window.ccPhone = { heardFrequency, simpleUser: () => user };
  setState("正在连接媒体服务器", "");
  buttons(false, false);
  try {
    await user.connect();
  } catch (e) {
    setState(`无法连接媒体服务器：${e.message}`, "down");
  }
}
