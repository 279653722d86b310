// Package report renders a snapshot from the store: the self-contained HTML
// report, the Excel workbook (with the plan's Approve column) and
// findings.json, and the drift between two snapshots. Reports read only the
// store, never live APIs, so a report can be made again from the same snapshot.
package report
