// Sorting by a column and filtering rows: the tables read the same without it.
document.querySelectorAll("table.sortable th[data-sort]").forEach(function (th) {
  var button = document.createElement("button");
  button.type = "button"; button.textContent = th.textContent; th.textContent = ""; th.appendChild(button);
  button.addEventListener("click", function () {
    var table = th.closest("table"), body = table.tBodies[0], index = th.cellIndex;
    var down = th.getAttribute("aria-sort") !== "descending";
    table.querySelectorAll("th[aria-sort]").forEach(function (o) { o.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", down ? "descending" : "ascending");
    var key = function (row) { var c = row.cells[index]; return c.dataset.n !== undefined ? Number(c.dataset.n) : c.textContent; };
    Array.from(body.rows).sort(function (a, b) {
      var x = key(a), y = key(b), r = x < y ? -1 : x > y ? 1 : 0; return down ? -r : r;
    }).forEach(function (row) { body.appendChild(row); });
  });
});
document.querySelectorAll("input[data-filter]").forEach(function (input) {
  var body = document.getElementById(input.dataset.filter).tBodies[0];
  input.hidden = false; input.parentElement.hidden = false;
  input.addEventListener("input", function () {
    var q = input.value.toLowerCase();
    Array.from(body.rows).forEach(function (row) { row.hidden = q && row.textContent.toLowerCase().indexOf(q) < 0; });
  });
});
