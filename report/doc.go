// Package report renders a snapshot from the store: findings.json now, the
// HTML report and the Excel workbook next. Reports read only the store,
// never live APIs, so a report can be made again from the same snapshot.
package report
