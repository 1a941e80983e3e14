// Tree editor glue: SortableJS drag-and-drop on every node list, and the node tools, each sent
// with htmx. The tools that need JavaScript are written once in the page (#node-tools) and added
// here to each node's card; without JavaScript the node's page (its Edit link) has them as forms.
// The server answers an edit with what changed (swapped out of band) and, for a move, where the
// node now is; this file only puts the node there.
(function () {
  "use strict";

  function tree() {
    return document.getElementById("tree");
  }

  function nodeUrl(pattern, item) {
    return tree().dataset[pattern].replace("{id}", item.id.slice("node-".length));
  }

  function parentId(list) {
    var owner = list.closest(".node");
    return owner ? owner.id.slice("node-".length) : "";
  }

  function listOf(parent) {
    return parent ? document.querySelector("#node-" + parent + " > .node-list") : document.querySelector("#tree .root-list");
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
      if (span.closest(".node-card").querySelector(".kind-action")) {
        var inside = span.querySelector('[data-op="inside"]');
        inside.textContent = inside.dataset.onError;
      }
    });
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

  // The node tools: ↑ ↓ → ← ✕ post to the node's move or delete URL; Edit, + after and + inside
  // open in place (the edit form, the add menu); Cancel and Close take away what they belong to.
  document.addEventListener("click", function (event) {
    var target = event.target.closest("#tree [data-op], #tree .node-tools > a, #tree .add-root > a, #tree [data-close]");
    if (!target || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    if (target.hasAttribute("data-close")) {
      target.closest(".add-menu, .node-edit").remove();
    } else if (target.tagName === "A") {
      htmx.ajax("GET", target.getAttribute("href"), { source: target });
    } else if (target.dataset.op === "after" || target.dataset.op === "inside") {
      var id = target.closest(".node").id.slice("node-".length);
      var query = target.dataset.op === "after" ? "?after=" : "?parent=";
      htmx.ajax("GET", tree().dataset.addUrl + query + id, { source: target });
    } else if (target.dataset.op === "delete") {
      var item = target.closest(".node");
      var inside = item.querySelector(".node-list .node") ? " and everything inside it" : "";
      if (window.confirm("Delete this node" + inside + "?")) {
        htmx.ajax("POST", nodeUrl("deleteUrl", item), { source: target });
      }
    } else {
      htmx.ajax("POST", nodeUrl("moveUrl", target.closest(".node")), {
        source: target,
        values: { direction: target.dataset.op },
      });
    }
  });

  function focus(selector) {
    var element = selector && document.querySelector(selector);
    if (element) element.focus();
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
    focus(event.detail.focus);
  });

  document.addEventListener("eventtree:focus", function (event) {
    focus(event.detail.focus);
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
  });
})();
