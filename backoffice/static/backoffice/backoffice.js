/* Backoffice admin scripts. No inline script anywhere: the pages run under a
 * Content-Security-Policy without 'unsafe-inline' or 'unsafe-eval', so the theme's Alpine
 * components run on Alpine's CSP build, which evaluates expressions without eval() and sees
 * only component data. The components the theme's templates name are registered here. */
"use strict";

document.addEventListener("alpine:init", function () {
  var Alpine = window.Alpine;

  // The <html> root component (unfold's app.js `theme`), with the few browser globals the
  // theme's inline expressions use: every component below it can resolve them.
  Alpine.data("theme", function (defaultTheme) {
    var data = window.theme(defaultTheme);
    data.window = window;
    data.localStorage = window.localStorage;
    return data;
  });

  // The other components the theme's templates name (global functions of unfold's app.js).
  ["searchCommand", "searchDropdown", "searchForm"].forEach(function (name) {
    if (typeof window[name] === "function") { Alpine.data(name, window[name]); }
  });

  // The <body> component of the skeleton (the same state unfold keeps inline).
  Alpine.data("unfoldBody", function (defaultTab) {
    var stored = window.localStorage.getItem("sidebarDesktopOpen");
    return {
      activeTab: defaultTab || "",
      sidebarMobileOpen: false,
      sidebarDesktopOpen: stored !== null ? stored === "1" : true,
      init: function () {
        var current = typeof window.getCurrentTab === "function" ? window.getCurrentTab() : null;
        if (current) { this.activeTab = current; }
        this.$watch("sidebarDesktopOpen", function (value) {
          window.localStorage.setItem("sidebarDesktopOpen", value ? "1" : "0");
        });
      },
    };
  });
});
