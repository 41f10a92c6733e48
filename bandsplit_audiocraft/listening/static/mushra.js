// MUSHRA test page (ITU-R BS.1534-3). Plain script, no build step, no network access: works from file://.
// The configuration (test id, trials, scale) is embedded in the page as window.MUSHRA_CONFIG.
// The order of trials and conditions is drawn per listener, exactly as bandsplit_audiocraft/listening/order.py.
(function () {
  'use strict';
  var config = window.MUSHRA_CONFIG;
  var $ = function (id) { return document.getElementById(id); };

  // ---- per-listener order: FNV-1a seed, Mulberry32 generator, Fisher-Yates shuffle ----
  function fnv1a(text) {
    var bytes = new TextEncoder().encode(text);
    var h = 0x811c9dc5;
    for (var i = 0; i < bytes.length; i++) {
      h = Math.imul(h ^ bytes[i], 0x01000193) >>> 0;
    }
    return h;
  }
  function mulberry32(seed) {
    var state = seed >>> 0;
    return function () {
      state = (state + 0x6d2b79f5) >>> 0;
      var t = Math.imul(state ^ (state >>> 15), state | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  function shuffle(items, draw) {
    var result = items.slice();
    for (var i = result.length - 1; i > 0; i--) {
      var j = Math.floor(draw() * (i + 1));
      var swap = result[i]; result[i] = result[j]; result[j] = swap;
    }
    return result;
  }

  var state = {listener: null, seed: null, started: null, order: [], index: 0, ratings: {}, played: {}};
  var players = {};   // key ('reference' or a condition name) -> <audio>
  var current = null; // the <audio> playing or last played
  var duration = 0;

  function trialAt(index) { return state.order[index].trial; }

  // ---- playback: one element per stimulus; switching keeps the position ----
  function loopStart() { return Math.max(0, parseFloat($('loop-start').value) || 0); }
  function loopEnd() {
    var end = parseFloat($('loop-end').value);
    return (end > loopStart() && end <= duration) ? end : duration;
  }
  function highlight() {
    var buttons = document.querySelectorAll('button.play');
    for (var i = 0; i < buttons.length; i++) {
      var on = current !== null && !current.paused && players[buttons[i].dataset.key] === current;
      buttons[i].classList.toggle('playing', on);
    }
  }
  function play(key) {
    var next = players[key];
    var position = current ? current.currentTime : loopStart();
    if (current && current !== next) { current.pause(); }
    if ($('loop').checked && (position < loopStart() || position >= loopEnd())) { position = loopStart(); }
    next.currentTime = position;
    current = next;
    var trial = trialAt(state.index);
    if (key !== 'reference') { state.played[trial.id][key] = true; }
    var promise = next.play();
    if (promise && promise.catch) { promise.catch(function (error) { $('trial-message').textContent = String(error); }); }
    highlight();
  }
  function stop() {
    if (current) { current.pause(); }
    highlight();
  }
  function onTime(event) {
    var element = event.target;
    if (element !== current) { return; }
    if ($('loop').checked && element.currentTime >= loopEnd()) { element.currentTime = loopStart(); }
    $('position').value = element.currentTime;
    $('time').textContent = element.currentTime.toFixed(2) + ' s';
  }
  function onEnded(event) {
    if (event.target === current && $('loop').checked) {
      current.currentTime = loopStart();
      current.play();
    }
    highlight();
  }
  function makePlayer(key, src) {
    var audio = document.createElement('audio');
    audio.preload = 'auto';
    audio.src = src;
    audio.dataset.key = key;
    audio.addEventListener('timeupdate', onTime);
    audio.addEventListener('ended', onEnded);
    audio.addEventListener('pause', highlight);
    audio.addEventListener('loadedmetadata', function () {
      if (key === 'reference') {
        duration = audio.duration;
        $('position').max = duration;
        $('loop-end').max = duration;
        $('loop-start').max = duration;
        if (!(parseFloat($('loop-end').value) > 0)) { $('loop-end').value = duration.toFixed(2); }
      }
    });
    $('players').appendChild(audio);
    players[key] = audio;
    return audio;
  }

  // ---- trials ----
  function saveRatings() {
    var sliders = document.querySelectorAll('#conditions input.rating');
    var trial = trialAt(state.index);
    for (var i = 0; i < sliders.length; i++) {
      state.ratings[trial.id][sliders[i].dataset.key] = parseInt(sliders[i].value, 10);
    }
  }
  function button(text, key) {
    var element = document.createElement('button');
    element.type = 'button';
    element.className = 'play';
    element.textContent = text;
    element.dataset.key = key;
    element.addEventListener('click', function () { play(key); });
    return element;
  }
  function showTrial(index) {
    stop();
    current = null;
    players = {};
    duration = 0;
    $('players').innerHTML = '';
    $('conditions').innerHTML = '';
    $('trial-message').textContent = '';
    state.index = index;
    var entry = state.order[index];
    var trial = entry.trial;
    $('trial-title').textContent = 'Trial ' + (index + 1) + ' of ' + state.order.length;
    $('loop-start').value = 0;
    $('loop-end').value = '';
    $('position').value = 0;
    $('time').textContent = '0.00 s';
    makePlayer('reference', trial.reference);
    var column = document.createElement('div');
    column.className = 'condition reference';
    column.appendChild(button('Reference', 'reference'));
    $('conditions').appendChild(column);
    entry.conditions.forEach(function (name, position) {
      var condition = trial.conditions.filter(function (c) { return c.name === name; })[0];
      makePlayer(name, condition.audio);
      var box = document.createElement('div');
      box.className = 'condition';
      var slider = document.createElement('input');
      slider.type = 'range';
      slider.min = 0; slider.max = 100; slider.step = 1;
      slider.className = 'rating';
      slider.dataset.key = name;
      var saved = state.ratings[trial.id][name];
      slider.value = saved === undefined ? 0 : saved;
      var value = document.createElement('output');
      value.textContent = slider.value;
      slider.addEventListener('input', function () { value.textContent = slider.value; });
      slider.addEventListener('change', saveRatings);
      slider.setAttribute('aria-label', 'rating of ' + String.fromCharCode(65 + position));
      box.appendChild(value);
      box.appendChild(slider);
      box.appendChild(button(String.fromCharCode(65 + position), name));
      $('conditions').appendChild(box);
    });
    $('previous').disabled = index === 0;
    $('next').textContent = index === state.order.length - 1 ? 'Finish' : 'Next';
  }
  function next() {
    saveRatings();
    if (state.index + 1 < state.order.length) {
      showTrial(state.index + 1);
    } else {
      stop();
      $('trial').hidden = true;
      $('done').hidden = false;
    }
  }
  function previous() {
    saveRatings();
    if (state.index > 0) { showTrial(state.index - 1); }
  }

  // ---- start and results ----
  function start() {
    var listener = $('listener').value.trim();
    if (!listener) { $('welcome-message').textContent = 'Enter your listener id first.'; return; }
    state.listener = listener;
    state.seed = fnv1a(config.test + ':' + listener);
    state.started = new Date().toISOString();
    var draw = mulberry32(state.seed);
    state.order = shuffle(config.trials, draw).map(function (trial) {
      state.ratings[trial.id] = {};
      state.played[trial.id] = {};
      return {trial: trial, conditions: shuffle(trial.conditions.map(function (c) { return c.name; }), draw)};
    });
    $('welcome').hidden = true;
    $('trial').hidden = false;
    showTrial(0);
  }
  function results() {
    return {
      format: config.format, version: 1, test: config.test, listener: state.listener, seed: state.seed,
      started: state.started, finished: new Date().toISOString(), user_agent: navigator.userAgent,
      trials: state.order.map(function (entry, position) {
        var trial = entry.trial;
        return {id: trial.id, clip: trial.clip, sample_rate: trial.sample_rate, position: position,
                order: entry.conditions, ratings: state.ratings[trial.id],
                played: entry.conditions.filter(function (name) { return state.played[trial.id][name]; })};
      })
    };
  }
  function fileName() {
    return 'mushra_' + config.test + '_' + state.listener.replace(/[^A-Za-z0-9._-]+/g, '_') + '.json';
  }
  function save() {
    var text = JSON.stringify(results(), null, 2);
    var link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([text], {type: 'application/json'}));
    link.download = fileName();
    document.body.appendChild(link);
    link.click();
    link.remove();
    $('status').textContent = 'Saved ' + link.download + '.';
    if (location.protocol === 'http:' || location.protocol === 'https:') {
      fetch('results', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: text})
        .then(function (response) {
          $('status').textContent += response.ok ? ' Sent to the experimenter.' : ' Sending failed: ' + response.status;
        })
        .catch(function () { $('status').textContent += ' Not sent (no collecting server).'; });
    }
  }

  $('start').addEventListener('click', start);
  $('listener').addEventListener('keydown', function (event) { if (event.key === 'Enter') { start(); } });
  $('stop').addEventListener('click', stop);
  $('next').addEventListener('click', next);
  $('previous').addEventListener('click', previous);
  $('save').addEventListener('click', save);
  $('position').addEventListener('input', function () {
    if (current) { current.currentTime = parseFloat($('position').value); }
  });
  $('set-start').addEventListener('click', function () {
    if (current) { $('loop-start').value = current.currentTime.toFixed(2); }
  });
  $('set-end').addEventListener('click', function () {
    if (current) { $('loop-end').value = current.currentTime.toFixed(2); }
  });
  window.mushra = {state: state, results: results, play: play, stop: stop, players: function () { return players; },
                   current: function () { return current; }};
}());
