// Run by the hub's /admin/ page before the Admin UI's own scripts. The UI's connection form starts from
// localStorage ("server_url"), which is empty on a first visit; the hub serving the page is the server
// its user most likely means, so offer its address. Whatever the user saves in the form wins after that.
try {
  if (!localStorage.getItem("server_url")) localStorage.setItem("server_url", location.origin);
} catch {
  // No localStorage (blocked, or a private mode without it): the form starts empty, as the UI's own does.
}
