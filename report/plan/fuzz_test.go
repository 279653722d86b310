package plan_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/anchorscan/anchorscan/report/plan"
	"github.com/anchorscan/anchorscan/scan/demo"
)

// fuzzCorpus is where go test reads FuzzRead's committed seeds (and writes
// its crashers).
var fuzzCorpus = filepath.Join("testdata", "fuzz", "FuzzRead")

// FuzzRead checks plan.Read, the gate between a file anyone could have
// edited and apply: no input panics; an accepted plan carries the seal of its
// own content and survives Write→Read unchanged, so what apply runs is what
// was reviewed; a refused one says which check failed in terms a person can
// act on.
//
// The seeds are the committed files under testdata/fuzz/FuzzRead: a real
// plan and variants of it. The test keeps them current with the generator
// (go test -run FuzzRead -update rewrites them), because a sealed seed that
// no longer reads would leave only the error paths fuzzed.
func FuzzRead(f *testing.F) {
	seeds := readSeeds(f)
	syncSeedCorpus(f, seeds)
	for _, name := range []string{"sealed-plan", "sealed-offset-time"} {
		if _, err := plan.Read(bytes.NewReader(seeds[name])); err != nil {
			f.Fatalf("the sealed seed %s is refused: %v", name, err)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := plan.Read(bytes.NewReader(data))
		if err != nil {
			checkRefusal(t, err)
			return
		}
		checkAccepted(t, p)
	})
}

// checkAccepted: the seal verifies, and writing the plan out and reading it
// back gives the same plan and, written again, the same bytes.
func checkAccepted(t *testing.T, p *plan.Plan) {
	t.Helper()
	if p.FormatVersion != plan.FormatVersion {
		t.Fatalf("accepted format version %d", p.FormatVersion)
	}
	want, err := p.ComputeSeal()
	if err != nil {
		t.Fatalf("an accepted plan cannot be sealed again: %v", err)
	}
	if p.Seal != want {
		t.Fatalf("accepted seal %q, content hashes to %q", p.Seal, want)
	}
	var first bytes.Buffer
	if err := p.Write(&first); err != nil {
		t.Fatalf("an accepted plan cannot be written: %v", err)
	}
	q, err := plan.Read(bytes.NewReader(first.Bytes()))
	if err != nil {
		t.Fatalf("an accepted plan, written out, is refused: %v\n%s", err, first.Bytes())
	}
	// An empty map and an absent one are the same plan: omitempty writes
	// both as nothing, so the seal cannot tell them apart either.
	if diff := cmp.Diff(p, q, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("plan changed through Write→Read (-read +reread):\n%s", diff)
	}
	var second bytes.Buffer
	if err := q.Write(&second); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.Bytes(), second.Bytes()) {
		t.Fatalf("the same plan written twice differs:\n%s\n---\n%s", first.Bytes(), second.Bytes())
	}
}

// checkRefusal: the error says it is the plan that was refused and why, with
// the detail that lets a person find the problem (the seal and the hash, the
// version found, the field or the JSON fault), never a bare sentinel.
func checkRefusal(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	if !strings.HasPrefix(msg, "plan") {
		t.Fatalf("error %q does not say it is about the plan", msg)
	}
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
		when   *time.ParseError
	)
	switch {
	case errors.Is(err, plan.ErrAltered):
		if !strings.Contains(msg, "content hashes to") && !strings.Contains(msg, "not byte for byte what anchorscan wrote") {
			t.Fatalf("altered plan refused without the seal and hash or the reason: %q", msg)
		}
	case errors.Is(err, plan.ErrUnknownVersion):
		if !strings.Contains(msg, "file has") && !strings.Contains(msg, "missing") {
			t.Fatalf("version refused without the version found: %q", msg)
		}
	case errors.As(err, &syntax):
		if !strings.HasPrefix(msg, "plan is not valid JSON: ") {
			t.Fatalf("syntax error not reported as one: %q", msg)
		}
	case errors.As(err, &typ):
		// Value is the JSON kind found ("string", "array", …).
		if typ.Value == "" || !strings.Contains(msg, typ.Value) {
			t.Fatalf("type error does not name what was found: %q", msg)
		}
	case errors.As(err, &when):
		if !strings.Contains(msg, "parsing time") {
			t.Fatalf("time error does not say it is a time: %q", msg)
		}
	case strings.HasPrefix(msg, "plan must be a JSON object, file has a JSON "):
	case strings.HasPrefix(msg, "plan: a value cannot be written back"):
	case strings.Contains(msg, "unknown field \""):
	default:
		t.Fatalf("refused with an error of no known kind: %q", msg)
	}
}

// readSeeds builds the seed inputs: a plan generated from the example
// fixture for one identity (a park, set-anchor, restore sequence with
// preconditions and a compensation), and that plan truncated, tampered with
// and mislabelled, plus inputs that are not plans at all.
func readSeeds(tb testing.TB) map[string][]byte {
	tb.Helper()
	s := exampleScan(tb)
	p, err := plan.Generate(s.snap, s.in, s.res, plan.GenerateOptions{
		ToolVersion: "test", Now: planTime, Only: []string{"stale-entra@contoso.example"},
	})
	if err != nil {
		tb.Fatalf("Generate: %v", err)
	}
	if len(p.Identities) != 1 || len(p.Identities[0].Steps) < 3 {
		tb.Fatalf("the seed plan has %d identities, want stale-entra alone with its park, set-anchor and restore steps", len(p.Identities))
	}
	// The snapshot hash covers scan times; fixing it keeps the seed's bytes
	// the same from run to run.
	p.Snapshot.ContentHash = strings.Repeat("ab", 32)
	if err := p.SealPlan(); err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		tb.Fatal(err)
	}
	good := buf.String()

	// Generate writes createdAt in UTC; a plan edited and resealed elsewhere
	// may carry an offset, here +14:00 (Line Islands), the largest in use,
	// next to the ones time.Parse takes but cannot write back.
	offset := *p
	offset.CreatedAt = p.CreatedAt.In(time.FixedZone("", 14*60*60))
	if err := offset.SealPlan(); err != nil {
		tb.Fatal(err)
	}
	var offsetBuf bytes.Buffer
	if err := offset.Write(&offsetBuf); err != nil {
		tb.Fatal(err)
	}

	edit := func(name, old, new string) string {
		if !strings.Contains(good, old) {
			tb.Fatalf("seed %s: the plan holds no %q", name, old)
		}
		return strings.Replace(good, old, new, 1)
	}
	otherSeal := "0" + p.Seal[1:]
	if p.Seal[0] == '0' {
		otherSeal = "1" + p.Seal[1:]
	}
	sealAt := strings.Index(good, `"seal"`)
	if sealAt < 0 {
		tb.Fatal("the seed plan has no seal")
	}
	return map[string][]byte{
		"sealed-plan":          []byte(good),
		"sealed-offset-time":   offsetBuf.Bytes(),
		"truncated-half":       []byte(good[:len(good)/2]),
		"truncated-at-seal":    []byte(good[:sealAt]),
		"tampered-anchor":      []byte(edit("tampered-anchor", "Y0YhBxKH3USNlXjGk37Q8g==", "Z0YhBxKH3USNlXjGk37Q8g==")),
		"tampered-seal":        []byte(edit("tampered-seal", `"seal": "`+p.Seal, `"seal": "`+otherSeal)),
		"seal-empty":           []byte(edit("seal-empty", `"seal": "`+p.Seal+`"`, `"seal": ""`)),
		"version-2":            []byte(edit("version-2", `"formatVersion": 1`, `"formatVersion": 2`)),
		"version-missing":      []byte(edit("version-missing", `"formatVersion": 1,`, ``)),
		"version-string":       []byte(edit("version-string", `"formatVersion": 1`, `"formatVersion": "1"`)),
		"unknown-field":        []byte(edit("unknown-field", `"toolVersion"`, `"extraStep": {}, "toolVersion"`)),
		"created-at-not-time":  []byte(edit("created-at-not-time", `"createdAt": "2025`, `"createdAt": "yesterday 2025`)),
		"trailing-second-plan": []byte(good + good),
		"empty":                {},
		"not-json":             []byte("plan.json\n"),
		"json-array":           []byte("[]"),
		"json-null":            []byte("null"),
	}
}

// exampleScan is exampleTenant for a testing.TB, sharing its one scan of the
// example fixture.
func exampleScan(tb testing.TB) scanned {
	tb.Helper()
	exampleOnce.Do(func() {
		example, exampleErr = scanTenant(context.Background(), filepath.Join(tmpRoot, "example"),
			demo.Options{TenantFile: "../../testdata/example-tenant.json"})
	})
	if exampleErr != nil {
		tb.Fatalf("scan the example fixture: %v", exampleErr)
	}
	return example
}

// syncSeedCorpus checks that every seed is committed, byte for byte, in go
// test's corpus format, or writes them under -update. Other files in the
// directory are crashers the fuzzer found and stay as regression inputs.
func syncSeedCorpus(tb testing.TB, seeds map[string][]byte) {
	tb.Helper()
	for name, data := range seeds {
		want := corpusFile(data)
		path := filepath.Join(fuzzCorpus, name)
		if *update {
			if err := os.MkdirAll(fuzzCorpus, 0o755); err != nil {
				tb.Fatal(err)
			}
			if err := os.WriteFile(path, want, 0o644); err != nil {
				tb.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			tb.Fatalf("%v (go test -run FuzzRead -update writes the seed corpus)", err)
		}
		if !bytes.Equal(got, want) {
			tb.Fatalf("%s is not the seed the generator makes now (go test -run FuzzRead -update rewrites it)", path)
		}
	}
}

// corpusFile encodes one []byte argument the way go test stores a fuzz
// input ("go test fuzz v1", then a Go literal per argument).
func corpusFile(data []byte) []byte {
	return fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", data)
}
