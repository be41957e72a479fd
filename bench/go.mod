module github.com/bookingrush/rush/bench

go 1.26.0

replace github.com/bookingrush/rush/gen => ../gen
