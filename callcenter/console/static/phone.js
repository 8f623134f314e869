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
let sentSdp = ""; // the description this phone last sent, as filtered by keepCandidates

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

// What the call's media runs over, for support and the browser test: the media server's ICE
// candidates (from its SDP), the selected candidate pair (addresses on both ends), the audio
// codec heard (`codec`) and sent (`sendCodec`), the packets each way (getStats).
async function media() {
  const handler = user && user.session && user.session.sessionDescriptionHandler;
  const pc = handler && handler.peerConnection;
  if (!pc) return null;
  const candidates = (description) => (description ? description.sdp : "").split(/\r?\n/)
    .filter((l) => l.startsWith("a=candidate:")).map((l) => l.split(" ")[4]);
  const remoteCandidates = candidates(pc.remoteDescription);
  // what this phone offered the far end (its candidates as sent, after keepCandidates)
  const localCandidates = candidates(sentSdp ? { sdp: sentSdp } : pc.localDescription);
  const stats = new Map();
  (await pc.getStats()).forEach((s) => stats.set(s.id, s));
  const result = { remoteCandidates, localCandidates, pair: null, codec: "", sendCodec: "", sent: 0, received: 0 };
  for (const s of stats.values()) {
    if (s.type === "transport" && s.selectedCandidatePairId) {
      const pair = stats.get(s.selectedCandidatePairId);
      const local = pair && stats.get(pair.localCandidateId);
      const remote = pair && stats.get(pair.remoteCandidateId);
      if (local && remote) result.pair = { local: local.address, remote: remote.address, state: pair.state };
    }
    if (s.type === "inbound-rtp" && s.kind === "audio") {
      result.received = s.packetsReceived;
      const codec = stats.get(s.codecId);
      if (codec) result.codec = codec.mimeType;
    }
    if (s.type === "outbound-rtp" && s.kind === "audio") {
      result.sent = s.packetsSent;
      const codec = stats.get(s.codecId);
      if (codec) result.sendCodec = codec.mimeType;
    }
  }
  return result;
}

// center.toml [webrtc] candidate_networks: the browser phone offers only ICE candidates on
// these networks (CIDR, IPv4 or IPv6), and its SDP's default address is one of them.
function addressBits(address) {
  if (address.includes(".") && !address.includes(":")) {
    const parts = address.split(".").map(Number);
    if (parts.length !== 4 || parts.some((p) => !(p >= 0 && p <= 255))) return null;
    return parts.map((p) => p.toString(2).padStart(8, "0")).join("");
  }
  if (!address.includes(":")) return null; // e.g. an mDNS name
  const [head, tail = ""] = address.split("::");
  const groups = (text) => (text ? text.split(":") : []);
  const h = groups(head), t = groups(tail);
  const all = address.includes("::") ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t] : h;
  if (all.length !== 8) return null;
  return all.map((g) => parseInt(g, 16).toString(2).padStart(16, "0")).join("");
}

function inNetworks(address, networks) {
  const bits = addressBits(address);
  return bits !== null && networks.some((network) => {
    const [base, length] = network.split("/");
    const baseBits = addressBits(base);
    if (baseBits === null || baseBits.length !== bits.length) return false;
    const n = length === undefined ? bits.length : Number(length);
    return bits.slice(0, n) === baseBits.slice(0, n);
  });
}

function keepCandidates(networks, description) {
  let kept = null;
  const lines = description.sdp.split("\r\n").filter((line) => {
    if (!line.startsWith("a=candidate:")) return true;
    const f = line.split(" ");
    if (!inNetworks(f[4], networks)) return false;
    if (!kept && f[1] === "1" && f[2].toLowerCase() === "udp") kept = { address: f[4], port: f[5] };
    return true;
  });
  const sdp = lines.map((line) => {
    if (!kept) return line;
    if (line.startsWith("c=IN ")) return `c=IN IP${kept.address.includes(":") ? 6 : 4} ${kept.address}`;
    if (line.startsWith("m=audio ")) return line.replace(/^m=audio \d+/, `m=audio ${kept.port}`);
    return line;
  }).join("\r\n");
  sentSdp = sdp;
  return { type: description.type, sdp };
}

// SIP.js's own session description handlers, whose descriptions (read once ICE gathering is
// done, just before they are sent) offer only the candidates on `networks` (all when empty).
function handlerFactory(SIP, networks) {
  const make = SIP.Web.defaultSessionDescriptionHandlerFactory();
  return (session, options) => {
    const handler = make(session, options);
    if (networks.length) {
      const local = handler.getLocalSessionDescription.bind(handler);
      handler.getLocalSessionDescription = () => local().then((d) => keepCandidates(networks, d));
    }
    return handler;
  };
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
  sentSdp = "";
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
  const networks = account.candidate_networks || [];
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
      sessionDescriptionHandlerFactory: handlerFactory(SIP, networks),
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
  window.ccPhone = { heardFrequency, media, simpleUser: () => user };
  setState("正在连接媒体服务器", "");
  buttons(false, false);
  try {
    await user.connect();
  } catch (e) {
    setState(`无法连接媒体服务器：${e.message}`, "down");
  }
}
