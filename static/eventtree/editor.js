// Tree editor glue: SortableJS drag-and-drop on every node list, and the node tools, each sent
// with htmx. The tools that need JavaScript are written once in the page (#node-tools) and added
// here to each node's card, each named after its node ("Move “Send email” up"); without
// JavaScript the node's page (its Edit link) has them as forms. The server answers an edit with
// what changed (swapped out of band) and where focus goes; this file puts a moved node where the
// server says, asks before a delete and folds containers. editor-guard.js keeps unsaved typing,
// focus and failed requests from being lost.
(function () {
  "use strict";

  function tree() {
    return document.getElementById("tree");
  }

  function idOf(item) {
    return item.id.replace(/^(node|card)-/, "");
  }

  function nodeUrl(pattern, item) {
    return tree().dataset[pattern].replace("{id}", idOf(item));
  }

  function parentId(list) {
    var owner = list.closest(".node");
    return owner ? idOf(owner) : "";
  }

  function listOf(parent) {
    return parent ? document.querySelector("#node-" + parent + " > .node-list") : document.querySelector("#tree .root-list");
  }

  // A node's name, as its Edit link says it (the server writes it: the label, or the summary).
  function nodeName(card) {
    var edit = card && card.querySelector(":scope > .node-row .node-tools > a");
    var label = edit ? edit.getAttribute("aria-label") || "" : "";
    return label.replace(/^Edit “/, "").replace(/”$/, "");
  }

  function named(button, name) {
    var words = button.dataset.name;
    if (words) button.setAttribute("aria-label", words.replace("{}", name));
  }

  // The page no longer matches the server (another builder's edit, a lost answer): reload the tree.
  function reloadTree() {
    if (tree()) htmx.ajax("GET", tree().dataset.treeUrl, { target: "#tree", swap: "outerHTML" });
  }

  function addTools(root) {
    var tools = document.getElementById("node-tools");
    if (!tools) return;
    var spans = Array.prototype.slice.call(root.querySelectorAll(".node-tools"));
    if (root.matches && root.matches(".node-tools")) spans.push(root);
    spans.forEach(function (span) {
      if (span.querySelector("button")) return;
      span.append(tools.content.cloneNode(true));
      var card = span.closest(".node-card");
      if (card.querySelector(".kind-action")) {
        var inside = span.querySelector('[data-op="inside"]');
        inside.textContent = inside.dataset.onError;
        inside.dataset.name = inside.dataset.onErrorName;
      }
      var name = nodeName(card);
      span.querySelectorAll("button").forEach(function (button) {
        named(button, name);
      });
    });
  }

  // Folding: a container (or an action with nodes on its error port) has a ▾ button before its
  // kind that hides its children; which nodes are folded is kept per tree in localStorage.
  function foldedKey() {
    return "eventtree:folded:" + (tree() ? tree().dataset.treeUrl : "");
  }

  function foldedIds() {
    try {
      return JSON.parse(window.localStorage.getItem(foldedKey()) || "[]");
    } catch (error) {
      return [];
    }
  }

  function foldedSave(id, folded) {
    var ids = foldedIds().filter(function (other) {
      return other !== id;
    });
    if (folded) ids.push(id);
    try {
      window.localStorage.setItem(foldedKey(), JSON.stringify(ids));
    } catch (error) {
      // Storage full or refused: the fold still holds until the page is left.
    }
  }

  function foldSet(item, folded) {
    var toggle = item.querySelector(":scope > .node-card .node-toggle");
    item.classList.toggle("is-folded", folded);
    if (!toggle) return;
    toggle.setAttribute("aria-expanded", folded ? "false" : "true");
    var count = item.querySelectorAll(":scope > .node-list .node").length;
    toggle.querySelector("span").textContent = folded ? "▸" : "▾";
    toggle.dataset.count = folded ? String(count) : "";
  }

  function foldToggles() {
    var template = document.getElementById("node-toggle");
    if (!template || !tree()) return;
    var folded = foldedIds();
    tree().querySelectorAll(".node").forEach(function (item) {
      var card = item.querySelector(":scope > .node-card");
      var list = item.querySelector(":scope > .node-list");
      if (!card || !list) return;
      var container = !card.querySelector(".kind-action") || list.querySelector(".node");
      var toggle = card.querySelector(".node-toggle");
      if (container && !toggle) {
        var row = card.querySelector(".node-row");
        row.insertBefore(template.content.cloneNode(true), row.querySelector(".kind"));
        toggle = card.querySelector(".node-toggle");
        named(toggle, nodeName(card));
        list.id = "children-" + idOf(item);
        toggle.setAttribute("aria-controls", list.id);
      } else if (!container && toggle) {
        toggle.remove();
      }
      foldSet(item, Boolean(container) && folded.indexOf(idOf(item)) >= 0);
    });
  }

  // Unfold what hides `element`, so that it can be seen and take focus.
  function unfoldAround(element) {
    var item = element.parentElement && element.parentElement.closest(".node.is-folded");
    while (item) {
      foldSet(item, false);
      foldedSave(idOf(item), false);
      item = item.parentElement && item.parentElement.closest(".node.is-folded");
    }
  }

  function initLists(root) {
    var lists = root.matches && root.matches(".node-list") ? [root] : [];
    lists = lists.concat(Array.prototype.slice.call(root.querySelectorAll(".node-list")));
    lists.forEach(function (list) {
      if (list.dataset.sortable || !list.closest("#tree[data-move-url]")) return;
      list.dataset.sortable = "1";
      new Sortable(list, {
        group: "tree",
        handle: ".drag-handle",
        draggable: ".node",
        animation: 120,
        forceFallback: true,
        fallbackOnBody: true,
        swapThreshold: 0.65,
        emptyInsertThreshold: 12,
        onEnd: function (event) {
          if (event.from === event.to && event.oldIndex === event.newIndex) return;
          htmx.ajax("POST", nodeUrl("moveUrl", event.item), {
            source: event.item,
            values: { parent: parentId(event.to), index: event.newIndex },
          });
        },
      });
    });
  }

  // Delete asks first, in the node's card: "Delete “X” and the 3 nodes inside it?".
  function deleteAsk(button) {
    var card = button.closest(".node-card");
    var question = card.querySelector(":scope > .delete-question");
    if (!question) {
      var item = card.closest(".node");
      var inside = item.querySelectorAll(":scope > .node-list .node").length;
      var words = "Delete “" + nodeName(card) + "”" +
        (inside ? " and the " + inside + " node" + (inside === 1 ? "" : "s") + " inside it?" : "?");
      card.querySelector(".node-row").after(document.getElementById("delete-question").content.cloneNode(true));
      question = card.querySelector(":scope > .delete-question");
      question.querySelector(".delete-words").textContent = words;
      question.setAttribute("aria-label", words);
      question.querySelector('[data-op="delete-yes"]').setAttribute("aria-label", "Yes, delete “" + nodeName(card) + "”");
    }
    question.querySelector('[data-op="delete-no"]').focus();
  }

  function menuOpener(menu) {
    var after = menu.querySelector('input[name="after"]');
    var parent = menu.querySelector('input[name="parent"]');
    if (after) return document.querySelector("#card-" + after.value + ' [data-op="after"]');
    if (parent) return document.querySelector("#card-" + parent.value + ' [data-op="inside"]');
    return document.querySelector("#tree .add-root > a");
  }

  function close(element) {
    var menu = element.closest(".add-menu");
    if (menu) {
      var opener = menuOpener(menu);
      menu.remove();
      if (opener) opener.focus();
      return;
    }
    var form = element.closest(".node-edit");
    var card = form.closest(".node-card");
    form.remove();
    var edit = card && card.querySelector(".node-tools > a");
    if (edit) edit.focus();
  }

  // The node tools: ↑ ↓ → ← and Duplicate (⧉) post to the node's move or duplicate URL, ✕ asks before it posts
  // to its delete URL; Edit, + after and + inside open in place (the edit form, the add menu);
  // Cancel and Close take away what they belong to.
  document.addEventListener("click", function (event) {
    var target = event.target.closest("#tree [data-op], #tree .node-tools > a, #tree .add-root > a, #tree [data-close]");
    if (!target || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    var op = target.dataset.op;
    if (target.hasAttribute("data-close")) {
      close(target);
    } else if (target.tagName === "A") {
      var open = target.closest(".node-card") && target.closest(".node-card").querySelector(":scope > .node-edit");
      if (open) focusFirstField(open); // already open: its typing stays
      else htmx.ajax("GET", target.getAttribute("href"), { source: target });
    } else if (op === "after" || op === "inside") {
      var query = op === "after" ? "?after=" : "?parent=";
      htmx.ajax("GET", tree().dataset.addUrl + query + idOf(target.closest(".node")), { source: target });
    } else if (op === "toggle") {
      var item = target.closest(".node");
      var folded = !item.classList.contains("is-folded");
      foldSet(item, folded);
      foldedSave(idOf(item), folded);
    } else if (op === "delete") {
      deleteAsk(target);
    } else if (op === "delete-no") {
      var card = target.closest(".node-card");
      target.closest(".delete-question").remove();
      card.querySelector('.node-tools [data-op="delete"]').focus();
    } else if (op === "delete-yes") {
      htmx.ajax("POST", nodeUrl("deleteUrl", target.closest(".node")), { source: target });
    } else if (op === "runs") {
      runsToggle(target);
    } else if (op === "duplicate") {
      htmx.ajax("POST", nodeUrl("duplicateUrl", target.closest(".node")), { source: target });
    } else {
      htmx.ajax("POST", nodeUrl("moveUrl", target.closest(".node")), {
        source: target,
        values: { direction: op },
      });
    }
  });

  // Runs: the node's last outcomes open under its card (views/builder/runs.py: node_runs), and close.
  function runsToggle(button) {
    var card = button.closest(".node-card");
    var shown = card.querySelector(":scope > .node-outcomes");
    if (shown) {
      shown.remove();
      button.setAttribute("aria-expanded", "false");
      return;
    }
    htmx.ajax("GET", nodeUrl("runsUrl", button.closest(".node")), { source: button, target: card, swap: "beforeend" })
      .then(function () {
        button.setAttribute("aria-expanded", "true");
      });
  }

  // Escape closes an add menu, or answers "Keep it" to a delete's question.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || !event.target.closest) return;
    var menu = event.target.closest("#tree .add-menu");
    var question = event.target.closest("#tree .delete-question");
    if (menu) close(menu);
    else if (question) question.querySelector('[data-op="delete-no"]').click();
  });

  function focusFirstField(form) {
    var field = form.querySelector("input:not([type=hidden]), select, textarea");
    if (field) field.focus();
  }

  // Focus goes where an answer says only if the builder has not gone on meanwhile: it is lost to
  // the page (the control that sent the request was swapped away), or still on (or in) that
  // control. A builder who clicked into a field of the form that opened, before the answer
  // settled, keeps typing there. `source` is the event's target: the control that sent the
  // request, or the body once that control is gone.
  function focusFree(source) {
    var active = document.activeElement;
    if (!active || active === document.body || !active.isConnected) return true;
    return !!source && source !== document.body && source.contains(active);
  }

  function focus(selector, source) {
    var element = selector && document.querySelector(selector);
    if (!element || !focusFree(source)) return;
    unfoldAround(element);
    element.focus();
  }

  // After an edit: put a moved node where the server says it now is, drop the test-run marks
  // (they were the old draft's), and give focus back to where the builder was.
  document.addEventListener("eventtree:changed", function (event) {
    var place = event.detail.place;
    if (place) {
      var item = document.getElementById("node-" + place.node);
      var list = listOf(place.parent);
      var after = place.after && document.getElementById("node-" + place.after);
      if (!item || !list || (place.after && !after)) return reloadTree();
      if (after) after.after(item);
      else list.prepend(item);
    }
    document.querySelectorAll("#tree .test-step").forEach(function (mark) {
      mark.remove();
    });
    foldToggles();
    focus(event.detail.focus, event.target);
  });

  document.addEventListener("eventtree:focus", function (event) {
    focus(event.detail.focus, event.target);
  });

  document.addEventListener("htmx:oobErrorNoTarget", reloadTree);

  // Each request from the tree says which draft the page shows: an answer made of changes fits
  // only that draft, so for another (an edit by someone else came first) the server sends the
  // whole tree.
  document.addEventListener("htmx:configRequest", function (event) {
    var stamp = document.getElementById("draft-stamp");
    if (stamp && event.detail.elt.closest && event.detail.elt.closest("#tree")) {
      event.detail.headers["X-Draft-Stamp"] = stamp.dataset.stamp;
    }
  });

  htmx.onLoad(function (element) {
    addTools(element);
    if (window.Sortable) initLists(element);
    var menu = element.matches && element.matches(".add-menu") ? element : element.querySelector(".add-menu");
    if (menu && !menu.hasAttribute("aria-label")) {
      var card = menu.closest(".node-card");
      var name = card ? nodeName(card) : "";
      var where = menu.querySelector('input[name="after"]') ? "after “" + name + "”"
        : !card ? "at the end of the tree"
          : card.querySelector(".kind-action") ? "to run if “" + name + "” fails" : "inside “" + name + "”";
      menu.setAttribute("aria-label", "Add a node " + where);
    }
    foldToggles();
  });

  // What editor-guard.js uses.
  window.eventtreeEditor = { reloadTree: reloadTree, unfoldAround: unfoldAround };
})();
