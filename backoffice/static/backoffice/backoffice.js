/* Backoffice admin scripts. No inline script anywhere: the pages run under a
 * Content-Security-Policy without 'unsafe-inline' or 'unsafe-eval', so the theme's Alpine
 * components run on Alpine's CSP build, which evaluates expressions without eval() and sees
 * only component data. The components the theme's templates name are registered here. */
"use strict";

// The few expressions of unfold's templates that read browser globals (the CSP build refuses
// `window`), by attribute and exact text, and the component method that does the same.
// alpine:init runs before Alpine walks the page, so the rewritten attributes are the ones
// it evaluates. A changed unfold template no longer matches and the browser tests, which
// fail on any Alpine error, say so.
var CSP_REWRITES = [
  ["x-bind:action",
   "activeTab && activeTab !== 'general' ? window.location.pathname + window.location.search + '#' + activeTab : window.location.pathname + window.location.search",
   "formAction"],
  ["x-on:click",
   "sidebarDesktopOpen = !sidebarDesktopOpen; localStorage.setItem('sidebarDesktopOpen', sidebarDesktopOpen ? '1' : '0');",
   "toggleSidebarDesktop"],
];

function rewriteForCsp() {
  CSP_REWRITES.forEach(function (rule) {
    document.querySelectorAll("[" + rule[0].replace(":", "\\:") + "]").forEach(function (el) {
      if (el.getAttribute(rule[0]).trim() === rule[1]) { el.setAttribute(rule[0], rule[2]); }
    });
  });
}

document.addEventListener("alpine:init", function () {
  var Alpine = window.Alpine;
  rewriteForCsp();

  // The <html> root component (unfold's app.js `theme`), with the few browser globals the
  // theme's inline expressions use: every component below it can resolve them.
  Alpine.data("theme", function (defaultTheme) {
    var data = window.theme(defaultTheme);
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
      formAction: function () {
        var here = window.location.pathname + window.location.search;
        return this.activeTab && this.activeTab !== "general" ? here + "#" + this.activeTab : here;
      },
      toggleSidebarDesktop: function () { this.sidebarDesktopOpen = !this.sidebarDesktopOpen; },
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
