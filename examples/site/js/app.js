// A little state on the page, to show that a stylesheet save does not reload it.
document.getElementById("loaded").textContent = new Date().toLocaleTimeString();
let clicks = 0;
document.getElementById("click").addEventListener("click", () => {
  clicks += 1;
  document.getElementById("clicks").textContent = String(clicks);
});
