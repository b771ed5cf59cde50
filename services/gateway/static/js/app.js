/* A little JavaScript for the pages: the phone menu, confirmations, and fetch() calls to the JSON
   API with the session cookie — every state-changing call carries the session's CSRF token. */
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');
  window.sjCsrf = meta ? meta.getAttribute("content") : "";

  window.sjFetch = function (url, options) {
    options = options || {};
    options.credentials = "same-origin";
    options.headers = options.headers || {};
    var method = (options.method || "GET").toUpperCase();
    if (method !== "GET" && method !== "HEAD") { options.headers["X-CSRF-Token"] = window.sjCsrf; }
    return fetch(url, options).then(function (response) {
      return response.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
        if (!response.ok) {
          var message = body && body.error ? body.error.message : ("请求失败（HTTP " + response.status + "）");
          throw new Error(message);
        }
        return body;
      });
    });
  };

  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-toggle]");
    if (toggle) { document.getElementById(toggle.getAttribute("data-toggle")).classList.toggle("open"); }
    var back = event.target.closest("[data-back]");
    if (back) { event.preventDefault(); history.back(); }
    if (event.target.closest("[data-print]")) { window.print(); }
  });

  document.addEventListener("change", function (event) {  // a hidden file input: say which file was picked
    var target = event.target.getAttribute && event.target.getAttribute("data-file-name");
    var label = target && event.target.form && event.target.form.querySelector(target);
    if (label) { label.textContent = event.target.files.length ? "已选择：" + event.target.files[0].name : "未选择文件"; }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); return; }
    var upload = form.getAttribute("data-upload");
    if (upload) {
      event.preventDefault();
      var input = form.querySelector('input[type="file"]');
      var status = form.querySelector(".upload-status");
      var file = input.files[0];
      if (!file) { status.textContent = "请选择文件"; return; }
      status.textContent = "正在上传……";
      window.sjFetch(upload + (upload.indexOf("?") < 0 ? "?" : "&") + "filename=" + encodeURIComponent(file.name),
                     { method: "POST", body: file, headers: { "Content-Type": file.type || "application/octet-stream" } })
        .then(function () { status.textContent = "已上传"; window.location.reload(); })
        .catch(function (error) { status.textContent = "上传失败：" + error.message; });
    }
    var attach = form.getAttribute("data-attach");  // a decision with attachments: upload them first
    var picker = attach && form.querySelector('input[type="file"]');
    if (picker && picker.files.length) {
      event.preventDefault();
      var note = form.querySelector(".attach-status");
      var files = Array.prototype.slice.call(picker.files);
      note.textContent = "正在上传附件（" + files.length + " 个）……";
      files.reduce(function (done, file) {
        return done.then(function () {
          return window.sjFetch(attach + (attach.indexOf("?") < 0 ? "?" : "&") + "filename=" + encodeURIComponent(file.name),
                                { method: "POST", body: file,
                                  headers: { "Content-Type": file.type || "application/octet-stream" } })
            .catch(function (error) { throw new Error(file.name + "：" + error.message); });
        });
      }, Promise.resolve()).then(function () {
        note.textContent = "附件已上传，正在提交决定……";
        picker.disabled = true;  // the decision itself is the plain form; the files are on the case already
        form.submit();  // no submit event: not uploaded twice
      }).catch(function (error) { note.textContent = "附件上传失败，决定未提交：" + error.message; });
    }
  });
})();
