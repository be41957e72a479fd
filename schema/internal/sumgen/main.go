// Command sumgen recomputes schema/migrations/atlas.sum, the integrity file
// the atlas CLI would write with `atlas migrate hash` (the CLI is not needed).
// Run it through `go generate ./schema` (it resolves the directory from the
// package directory) or pass the migration directory as the only argument.
package main

import (
	"fmt"
	"os"

	"ariga.io/atlas/sql/migrate"
)

func main() {
	path := "migrations"
	if len(os.Args) > 1 {
		path = os.Args[1]
	}
	if err := run(path); err != nil {
		fmt.Fprintln(os.Stderr, "sumgen:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	dir, err := migrate.NewLocalDir(path)
	if err != nil {
		return err
	}
	sum, err := dir.Checksum()
	if err != nil {
		return err
	}
	if err := migrate.WriteSumFile(dir, sum); err != nil {
		return err
	}
	fmt.Printf("sumgen: wrote %s/%s (%d files)\n", path, migrate.HashFileName, len(sum))
	return nil
}
