package schema_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/bookingrush/rush/schema"
	"github.com/bookingrush/rush/services/platform/pgtest"
)

// knownLeaks are the SQL uses of another owner's table that are still to be
// replaced by the owner's RPCs or events ("package table"). The list only
// shrinks: a new leak fails the test, and so does a listed one that is gone.
var knownLeaks = map[string]string{}

// sqlTable finds the table a SQL keyword names (FROM x, JOIN x, INTO x,
// UPDATE x, TABLE x, TRUNCATE x).
var sqlTable = regexp.MustCompile(`(?i)\b(?:FROM|JOIN|INTO|UPDATE|TABLE|TRUNCATE)\s+(?:ONLY\s+|IF\s+(?:NOT\s+)?EXISTS\s+)?"?([a-z_][a-z0-9_]*)`)

// createTable finds the tables a migration creates.
var createTable = regexp.MustCompile(`(?i)\bCREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?([a-z_][a-z0-9_]*)\s*\(`)

// TestEveryTableHasOneOwner: every table the migrations create is declared
// in schema.Owners, and every declared table exists.
func TestEveryTableHasOneOwner(t *testing.T) {
	created := map[string]bool{schema.RevisionTable: true}
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations found: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range createTable.FindAllStringSubmatch(string(b), -1) {
			created[m[1]] = true
		}
	}
	for table := range created {
		if _, ok := schema.Owners[table]; !ok {
			t.Errorf("table %s has no owner: declare it in schema.Owners (schema/ownership.go)", table)
		}
	}
	for table := range schema.Owners {
		if !created[table] {
			t.Errorf("schema.Owners declares %s, which no migration creates", table)
		}
	}
}

// TestSQLNamesOnlyOwnTables parses every Go file of the repository (tests
// and generated code aside) and checks that the SQL in its string literals
// names only tables of the package that owns them; auditors may read any.
func TestSQLNamesOnlyOwnTables(t *testing.T) {
	uses := map[string][]string{} // "package table" -> positions
	eachLiteral(t, func(pkg, at, s string) {
		for _, m := range sqlTable.FindAllStringSubmatch(s, -1) {
			if _, ok := schema.Owners[m[1]]; !ok {
				continue
			}
			key := pkg + " " + m[1]
			uses[key] = append(uses[key], at)
			sort.Strings(uses[key])
		}
	})
	var found []string
	for use, at := range uses {
		found = append(found, use)
		pkg, table, _ := strings.Cut(use, " ")
		owner := schema.Owners[table]
		if owner == pkg || slices.Contains(schema.Auditors, pkg) {
			continue
		}
		if _, ok := knownLeaks[use]; ok {
			continue
		}
		t.Errorf("%s names table %s, which %s owns (%s): ask its owner (RPC) or build a read model from its events (docs/ownership.md)",
			pkg, table, owner, strings.Join(at, ", "))
	}
	for use := range knownLeaks {
		if !slices.Contains(found, use) {
			t.Errorf("known leak %q is gone: remove it from knownLeaks", use)
		}
	}
	if len(found) == 0 {
		t.Fatal("no SQL found: the scan is broken")
	}
}

// eachLiteral calls fn with every string literal of the repository's Go
// files (tests aside), the package that owns the file and where it is.
func eachLiteral(t *testing.T, fn func(pkg, at, s string)) {
	t.Helper()
	for _, root := range []string{"../services", "../edge", "../cmd", "../bench"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			pkg := packageOf(path)
			ast.Inspect(f, func(n ast.Node) bool {
				lit, ok := n.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				if s, err := strconv.Unquote(lit.Value); err == nil {
					pos := fset.Position(lit.Pos())
					fn(pkg, strings.TrimPrefix(pos.Filename, "../")+":"+strconv.Itoa(pos.Line), s)
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// packageOf names the owner-to-be of a file: the service
// (services/<name>/...), the platform package (services/platform/<name>/...),
// or the top-level directory (edge, cmd, bench).
func packageOf(path string) string {
	parts := strings.Split(filepath.ToSlash(strings.TrimPrefix(path, "../")), "/")
	switch {
	case parts[0] == "services" && parts[1] == "platform" && len(parts) > 3:
		return "platform/" + parts[2]
	case parts[0] == "services" && len(parts) > 2:
		return parts[1]
	}
	return parts[0]
}

// TestNoForeignKeyCrossesOwners migrates a fresh schema and reads every
// foreign key Postgres holds: both tables of each must have one owner. A key
// into another owner's table makes that owner's rows undeletable (an account
// with a payment) or deletes this owner's rows behind its back (a cascade),
// and ties the two to one database.
func TestNoForeignKeyCrossesOwners(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t, pgtest.Migrated(t))
	rows, err := db.QueryContext(t.Context(), `
		SELECT c.conname, child.relname, parent.relname
		FROM pg_constraint c
		JOIN pg_class child ON child.oid = c.conrelid
		JOIN pg_class parent ON parent.oid = c.confrelid
		WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace
		ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	keys := 0
	for rows.Next() {
		var name, child, parent string
		if err := rows.Scan(&name, &child, &parent); err != nil {
			t.Fatal(err)
		}
		keys++
		if schema.Owners[child] == "" || schema.Owners[child] != schema.Owners[parent] {
			t.Errorf("%s: %s (%s) references %s (%s)", name, child, schema.Owners[child], parent, schema.Owners[parent])
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if keys == 0 {
		t.Fatal("no foreign key found: the query reads the wrong schema")
	}
}
