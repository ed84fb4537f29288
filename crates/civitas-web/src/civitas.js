/* civitas pages: progressive enhancements. Every page works without this script.
   1. The commune picker: a type-ahead (ARIA combobox) over today's and pre-2025 names.
   2. /verify: scanning a certificate's QR code with the camera. */
(function () {
  'use strict';
  var lang = document.documentElement.lang === 'en' ? 'en' : 'vi';

  // ----- 1. commune type-ahead -----
  var counter = 0;
  function combo(input) {
    var n = ++counter;
    var province = input.dataset.province ? document.getElementById(input.dataset.province) : null;
    var wrap = document.createElement('div');
    wrap.className = 'combo';
    input.parentNode.insertBefore(wrap, input);
    wrap.appendChild(input);
    var list = document.createElement('ul');
    list.id = 'combo-list-' + n;
    list.setAttribute('role', 'listbox');
    list.hidden = true;
    wrap.appendChild(list);
    var live = document.createElement('div');
    live.className = 'visually-hidden';
    live.setAttribute('aria-live', 'polite');
    wrap.appendChild(live);
    input.removeAttribute('list');
    input.setAttribute('role', 'combobox');
    input.setAttribute('aria-autocomplete', 'list');
    input.setAttribute('aria-expanded', 'false');
    input.setAttribute('aria-controls', list.id);
    input.setAttribute('autocomplete', 'off');
    var items = [], active = -1, timer = null, asked = 0;

    function close() {
      list.hidden = true; items = []; active = -1;
      input.setAttribute('aria-expanded', 'false');
      input.removeAttribute('aria-activedescendant');
    }
    function mark(i) {
      active = i;
      Array.prototype.forEach.call(list.children, function (li, j) { li.setAttribute('aria-selected', j === i ? 'true' : 'false'); });
      if (i >= 0 && list.children[i]) {
        input.setAttribute('aria-activedescendant', list.children[i].id);
        list.children[i].scrollIntoView({ block: 'nearest' });
      } else { input.removeAttribute('aria-activedescendant'); }
    }
    function choose(i) {
      var s = items[i];
      if (!s) return;
      input.value = s.name;
      if (province && province.value !== s.province) province.value = s.province;
      close();
      live.textContent = s.name + ', ' + s.province_name;
    }
    function show(found) {
      items = found;
      list.textContent = '';
      found.forEach(function (s, i) {
        var li = document.createElement('li');
        li.id = list.id + '-' + i;
        li.setAttribute('role', 'option');
        li.setAttribute('aria-selected', 'false');
        li.appendChild(document.createTextNode(s.name));
        var small = document.createElement('small');
        small.textContent = s.detail;
        li.appendChild(small);
        li.addEventListener('mousedown', function (e) { e.preventDefault(); choose(i); });
        list.appendChild(li);
      });
      list.hidden = found.length === 0;
      input.setAttribute('aria-expanded', found.length ? 'true' : 'false');
      active = -1;
      live.textContent = found.length ? found.length + (lang === 'en' ? ' suggestions' : ' gợi ý') : (lang === 'en' ? 'No suggestion' : 'Không có gợi ý');
    }
    function ask() {
      var q = input.value.trim();
      if (q.length < 2) { close(); return; }
      var url = '/api/v1/units/communes/suggest?lang=' + lang + '&q=' + encodeURIComponent(q);
      if (province && province.value) url += '&province=' + encodeURIComponent(province.value);
      var mine = ++asked;
      fetch(url, { credentials: 'same-origin' })
        .then(function (r) { return r.ok ? r.json() : []; })
        .then(function (found) { if (mine === asked && document.activeElement === input) show(found); })
        .catch(function () { close(); });
    }
    input.addEventListener('input', function () { clearTimeout(timer); timer = setTimeout(ask, 120); });
    input.addEventListener('keydown', function (e) {
      if (list.hidden) { if (e.key === 'ArrowDown') { ask(); } return; }
      if (e.key === 'ArrowDown') { e.preventDefault(); mark(Math.min(active + 1, items.length - 1)); }
      else if (e.key === 'ArrowUp') { e.preventDefault(); mark(Math.max(active - 1, 0)); }
      else if (e.key === 'Enter' && active >= 0) { e.preventDefault(); choose(active); }
      else if (e.key === 'Escape') { e.preventDefault(); close(); }
    });
    input.addEventListener('blur', function () { setTimeout(close, 100); });
  }
  Array.prototype.forEach.call(document.querySelectorAll('input[data-commune]'), combo);

  // ----- 2. the camera on /verify -----
  var cam = document.getElementById('camera');
  if (cam && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
    cam.hidden = false;
    var start = document.getElementById('camera-start');
    var video = cam.querySelector('video');
    var status = document.getElementById('camera-status');
    var canvas = document.createElement('canvas');
    var stream = null, busy = false, tries = 0;
    var detector = null;
    if ('BarcodeDetector' in window) {
      try { detector = new window.BarcodeDetector({ formats: ['qr_code'] }); } catch (e) { detector = null; }
    }
    var done = function (payload) {
      if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
      stream = null;
      status.textContent = cam.dataset.found;
      window.location.href = '/verify?payload=' + encodeURIComponent(payload) + (lang === 'en' ? '&lang=en' : '');
    };
    // Without a barcode detector in the browser, a frame is sent to this server, which reads
    // the QR code the way it reads an uploaded photo (nothing is stored).
    var viaServer = function () {
      var w = video.videoWidth, h = video.videoHeight;
      if (!w || !h) return Promise.resolve(null);
      var scale = Math.min(1, 1280 / w);
      canvas.width = Math.round(w * scale); canvas.height = Math.round(h * scale);
      canvas.getContext('2d').drawImage(video, 0, 0, canvas.width, canvas.height);
      return new Promise(function (resolve) { canvas.toBlob(resolve, 'image/jpeg', 0.92); }).then(function (blob) {
        if (!blob) return null;
        var form = new FormData();
        form.append('certificate', blob, 'frame.jpg');
        return fetch('/verify?format=json', { method: 'POST', body: form, credentials: 'same-origin' })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (j) { return j && j.payload ? j.payload : null; });
      });
    };
    var tick = function () {
      if (!stream || busy) return;
      busy = true; tries++;
      var found = detector
        ? detector.detect(video).then(function (codes) { return codes.length ? codes[0].rawValue : null; })
        : viaServer();
      found.then(function (payload) {
        busy = false;
        if (payload) { done(payload); return; }
        if (tries % 6 === 0) status.textContent = cam.dataset.hint;
        setTimeout(tick, detector ? 200 : 700);
      }, function () { busy = false; setTimeout(tick, 1000); });
    };
    start.addEventListener('click', function () {
      status.textContent = cam.dataset.opening;
      navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment', width: { ideal: 1280 }, height: { ideal: 960 } }, audio: false }).then(function (s) {
        stream = s;
        video.srcObject = s;
        video.hidden = false;
        return video.play();
      }).then(function () {
        status.textContent = cam.dataset.looking;
        start.hidden = true;
        tick();
      }).catch(function () {
        status.textContent = cam.dataset.denied;
      });
    });
  }
})();
