// Not Go: this file only keeps web/ out of the Go workspace's ./... patterns,
// which would otherwise build and test Go packages that npm dependencies ship
// in web/node_modules (flatted does).
module github.com/bookingrush/rush/web-not-go

go 1.26.0
