// The tree editor's guard (with editor.js): nothing a builder did is lost to a request. Unsaved
// typing in an edit form survives the swaps around it, focus never falls to the page, and a
// request that fails is said in an alert.
(function () {
  "use strict";

  // Unsaved typing is never dropped by a swap: an edit form whose values differ from those it
  // was sent with is taken out before its card (or the whole tree) is replaced, and put back in
  // the new card. The form being saved is not kept: its answer says what became of it.
  var unsaved = {};

  // Whether a form holds typing: a field whose value differs from the one the page was sent with.
  function changed(form) {
    return Array.prototype.some.call(form.elements, function (field) {
      if (field.type === "checkbox" || field.type === "radio") return field.checked !== field.defaultChecked;
      if (field.tagName === "SELECT") {
        return Array.prototype.some.call(field.options, function (option) {
          return option.selected !== option.defaultSelected;
        });
      }
      return field.type !== "hidden" && "defaultValue" in field && field.value !== field.defaultValue;
    });
  }

  function keepUnsaved(target) {
    document.querySelectorAll("#tree form.node-edit").forEach(function (form) {
      var card = form.closest(".node-card");
      if (!card || !target.contains(form) || form.dataset.sending) return;
      if (changed(form)) unsaved[card.id] = form;
    });
  }

  function putBackUnsaved() {
    Object.keys(unsaved).forEach(function (cardId) {
      var card = document.getElementById(cardId);
      if (card && !card.contains(unsaved[cardId])) {
        if (!card.querySelector(":scope > .node-edit")) card.append(unsaved[cardId]);
        delete unsaved[cardId];
      }
    });
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.target) keepUnsaved(event.detail.target);
  });
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    if (event.detail.target) keepUnsaved(event.detail.target);
  });
  document.addEventListener("htmx:oobAfterSwap", putBackUnsaved);
  document.addEventListener("htmx:afterSwap", putBackUnsaved);
  document.addEventListener("htmx:afterSettle", function () {
    putBackUnsaved();
    unsaved = {};
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt;
    if (form.matches && form.matches("form.node-edit")) form.dataset.sending = "1";
  });

  window.addEventListener("beforeunload", function (event) {
    var changed = Array.prototype.some.call(document.querySelectorAll("#tree form.node-edit"), function (form) {
      return !form.dataset.sending && changed(form);
    });
    if (changed) event.preventDefault();
  });

  // A request that fails is said in #request-error (role=alert), never silently dropped.
  function requestError(message, elt) {
    var region = document.getElementById("request-error");
    if (!region) return;
    var alert = document.createElement("p");
    alert.className = "alert alert-error";
    alert.textContent = message;
    region.replaceChildren(alert);
    if (elt && elt.classList && elt.classList.contains("node")) window.eventtreeEditor.reloadTree(); // a drop the page shows
  }

  function statusWords(status) {
    if (status === 403) return "You may not make this change (403 Forbidden).";
    if (status === 404) return "What you changed is gone: someone may have deleted it (404). Reload the page.";
    if (status === 409 || status === 400) return "The server refused this change (" + status + "). Reload the page and try again.";
    if (status >= 500) return "The server failed to make this change (" + status + "). Nothing was saved; try again, or reload the page.";
    return "The change was refused (" + status + "). Reload the page and try again.";
  }

  document.addEventListener("htmx:responseError", function (event) {
    requestError(statusWords(event.detail.xhr.status), event.detail.elt);
  });

  document.addEventListener("htmx:sendError", function (event) {
    requestError("The change could not be sent: the server cannot be reached. Nothing was saved; check the connection and try again.",
      event.detail.elt);
  });

  // Focus never falls to the page: if a swap took the focused element away and the answer said
  // nowhere else (eventtree:changed and eventtree:focus come first), focus goes back to the
  // control that sent the request, else to what the answer said above the tree, else to a
  // control of the same id, else to the node's Edit link, else to the editor's heading.
  var lastSource = null;
  var lastCardId = "";

  function focusLost() {
    var active = document.activeElement;
    return !active || active === document.body || !active.isConnected;
  }

  function focusBack() {
    if (!focusLost()) return;
    var source = lastSource;
    var heading = document.querySelector("#editor h1");
    var target = (source && source.isConnected && source) ||
      document.querySelector("#request-error .alert, #tree-alert .alert") ||
      (source && source.id && document.getElementById(source.id)) ||
      (lastCardId && document.querySelector("#" + lastCardId + " .node-tools > a")) ||
      heading;
    if (!target) return;
    if (target.matches(".alert, h1")) target.setAttribute("tabindex", "-1");
    window.eventtreeEditor.unfoldAround(target);
    target.focus();
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (!elt || !elt.closest || elt.closest(".template-preview")) return;
    lastSource = elt;
    var card = elt.closest(".node-card");
    lastCardId = card ? card.id : "";
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail.elt;
    var region = document.getElementById("request-error");
    if (event.detail.successful && region && elt && elt.closest && !elt.closest(".template-preview")) {
      region.replaceChildren();
    }
  });

  document.addEventListener("htmx:afterSettle", function () {
    window.setTimeout(focusBack, 0);
  });
})();
