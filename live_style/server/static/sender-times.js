// live-style studio: a worker on the camera's sender (RTCRtpScriptTransform). It passes every encoded frame on
// unchanged and tells the page the frame's RTP time and when it left the encoder (for latency.js).
"use strict";

onrtctransform = (event) => {
  const { readable, writable } = event.transformer;
  const tell = new TransformStream({
    transform(frame, controller) {
      try {
        const rtp = frame.getMetadata().rtpTimestamp;
        if (rtp !== undefined) postMessage([rtp, performance.timeOrigin + performance.now()]);
      } finally {
        controller.enqueue(frame); // the camera's frames go on whatever happens here
      }
    },
  });
  readable.pipeThrough(tell).pipeTo(writable);
};
