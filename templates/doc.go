// Package templates holds the HTML report's template, style sheet and
// script, embedded into the binary so a report needs nothing at run time
// and loads nothing from anywhere when opened.
package templates

import "embed"

// FS holds report.html.tmpl, report.css and report.js.
//
//go:embed report.html.tmpl report.css report.js
var FS embed.FS
