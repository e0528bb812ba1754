// The few things only the browser knows or keeps: the viewer's time zone, and the admin token for this tab only.
window.isemsDashboard = {
  timeZone: () => Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC",
  getToken: () => sessionStorage.getItem("isems-admin-token"),
  setToken: (token) => sessionStorage.setItem("isems-admin-token", token),
  forgetToken: () => sessionStorage.removeItem("isems-admin-token"),
};
