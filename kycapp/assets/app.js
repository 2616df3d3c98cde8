// kycapp: progressive enhancement of the KYC page. Without this file every item is still a
// plain form that works; with it, a file over the limit is caught before it is sent and
// the selfie item takes its photo with the front camera.
(function () {
  "use strict";

  function itemOf(el) { return el.closest("[data-item]"); }
  function alertOf(item) { return item.querySelector("[data-alert]"); }

  document.querySelectorAll("form[data-upload]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      var input = form.querySelector("input[type=file]");
      var max = Number(input.getAttribute("data-max-size") || 0);
      if (max > 0 && input.files.length > 0 && input.files[0].size > max) {
        ev.preventDefault();
        alertOf(itemOf(form)).textContent = input.getAttribute("data-too-large");
        input.focus();
      }
    });
  });

  document.querySelectorAll("[data-camera]").forEach(function (box) {
    var item = itemOf(box);
    var form = item.querySelector("form[data-upload]");
    var alertEl = alertOf(item);
    var noCamera = item.querySelector("[data-no-camera]");
    var video = box.querySelector("[data-video]");
    var preview = box.querySelector("[data-preview]");
    var take = box.querySelector('[data-action="take-photo"]');
    var retake = box.querySelector('[data-action="retake-photo"]');
    var send = box.querySelector('[data-action="send-photo"]');
    var blob = null, url = null, stream = null;

    function noCam() {
      box.hidden = true;
      noCamera.hidden = false;
    }
    function stop() {
      if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); }
    }
    function showVideo(on) {
      video.hidden = !on;
      preview.hidden = on;
      take.hidden = !on;
      retake.hidden = on;
      send.hidden = on;
    }

    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      noCam();
      return;
    }
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "user", width: { ideal: 1280 }, height: { ideal: 960 } }, audio: false })
      .then(function (s) {
        stream = s;
        video.srcObject = s;
        box.hidden = false;
        return video.play();
      })
      .then(function () { take.disabled = false; })
      .catch(function () { stop(); noCam(); });

    take.addEventListener("click", function () {
      var w = video.videoWidth, h = video.videoHeight;
      if (!w || !h) { return; }
      var scale = Math.min(1, 1280 / Math.max(w, h));
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(w * scale);
      canvas.height = Math.round(h * scale);
      canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
      canvas.toBlob(function (b) {
        if (!b) { return; }
        blob = b;
        if (url) { URL.revokeObjectURL(url); }
        url = URL.createObjectURL(b);
        preview.src = url;
        showVideo(false);
        send.focus();
      }, "image/jpeg", 0.9);
    });

    retake.addEventListener("click", function () {
      blob = null;
      alertEl.textContent = "";
      showVideo(true);
      take.focus();
    });

    send.addEventListener("click", function () {
      if (!blob) { return; }
      var label = send.textContent;
      var data = new FormData();
      data.append("requirement_id", item.getAttribute("data-item"));
      data.append("file", blob, "selfie.jpg");
      send.disabled = true;
      retake.disabled = true;
      send.textContent = send.getAttribute("data-sending");
      alertEl.textContent = "";
      function failed(message) {
        alertEl.textContent = message || box.getAttribute("data-error");
        send.disabled = false;
        retake.disabled = false;
        send.textContent = label;
      }
      fetch(form.action, { method: "POST", body: data, credentials: "same-origin" })
        .then(function (res) {
          if (res.ok) {
            stop();
            window.location.assign(res.url);
            return;
          }
          return res.text().then(function (html) {
            // The answer is the page (or a message page) with the reason in role=alert.
            var doc = new DOMParser().parseFromString(html, "text/html");
            var msg = doc.querySelector("[role=alert]:not(:empty)") || doc.querySelector("main p");
            failed(msg ? msg.textContent.trim() : "");
          });
        })
        .catch(function () { failed(""); });
    });

    window.addEventListener("pagehide", stop);
  });
})();
