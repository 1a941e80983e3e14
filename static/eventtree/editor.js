// Tree editor glue: SortableJS drag-and-drop on every node list, each drop posted with htmx.
(function () {
  "use strict";

  function initLists(root) {
    var lists = root.matches && root.matches(".node-list") ? [root] : [];
    lists = lists.concat(Array.prototype.slice.call(root.querySelectorAll(".node-list")));
    lists.forEach(function (list) {
      if (list.dataset.sortable) return;
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
          var item = event.item;
          htmx.ajax("POST", item.dataset.moveUrl, {
            target: "#tree",
            swap: "outerHTML",
            values: { parent: event.to.dataset.parentId || "", index: event.newIndex },
          });
        },
      });
    });
  }

  htmx.onLoad(function (element) {
    if (window.Sortable) initLists(element);
  });
})();
