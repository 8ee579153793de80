package registry

// Regression test of review 51 (fixed): a journal the registry refuses is
// no longer said to be restorable "only from cache_dir/journal" when no
// such file was written. addToJournal (journal.go) now says where the
// journal is (whereKept): the file, named, when it was written (to be
// pushed back by hand: registry_restore reads only the registry's
// journal), or nowhere but in the apply's memory when cache_dir is off or
// the file could not be written (appendFile returns its error now; a file
// that cannot be written is also a warning of its own).
//
// The report: a journal write failing (journal.go addToJournal).
//
// TestReview51UnstoredJournalPointsAtAFileNotWritten (cosmetic: a false
// "restorable"): the registry refuses the journal's
// push (pushes to terraform-provider-registry/journal answered 403
// DENIED: credentials that may delete in the repository but not push to
// the journal's). The apply warns: "the journal of the deletions in ...
// could not be stored in the registry ...; this apply still puts back
// what the registry API's window takes, but what it deleted can be
// restored later only from cache_dir/journal". With cache_dir = "" (the
// journal's file is not written at all: journal.file == "") and with a
// cache_dir the provider cannot write (appendFile drops every error), no
// such file exists, and nothing says so: the user is told a later
// restore is possible when nothing of this apply's deletions is stored
// anywhere. (Also: nothing in the provider reads cache_dir/journal back;
// registry_restore reads only the registry's journal.)
//
// Run: go test -count=1 -run TestReview51UnstoredJournal ./internal/registry/

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
)

func TestReview51UnstoredJournalPointsAtAFileNotWritten(t *testing.T) {
	reg := testregistry.Start(t)
	for _, cache := range []string{"off", "unwritable", "writable"} {
		t.Run(cache, func(t *testing.T) {
			repo := "review51/journal-" + cache
			created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
			if _, err := reg.PushImage(repo, created, "pr-1"); err != nil {
				t.Fatal(err)
			}
			if _, err := reg.PushImage(repo, created, "stable"); err != nil {
				t.Fatal(err)
			}
			cfg := Config{}
			if cache != "off" {
				cfg.CacheDir = t.TempDir()
			}
			if cache == "unwritable" {
				if err := os.WriteFile(filepath.Join(cfg.CacheDir, journalFolder), []byte("not a folder"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			proxy := newFaultProxy(t, reg.URL)
			proxy.setFault(func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodGet && r.Method != http.MethodHead && strings.Contains(r.URL.Path, "/"+JournalRepository+"/") {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusForbidden)
					_, _ = w.Write([]byte(`{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`))
					return true
				}
				return false
			})
			cfg.URL = proxy.URL
			c := newClient(t, cfg)
			batch := planBatch(t, c, repo, deletePR())
			report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
			if err != nil || report.Deleted != 1 {
				t.Fatalf("apply: %v, report %+v; want pr-1's image deleted", err, report)
			}
			var warning string
			for _, w := range report.Warnings {
				if strings.Contains(w, "could not be stored") {
					warning = w
				}
			}
			if warning == "" {
				t.Fatalf("warnings %q; want the journal named not stored", report.Warnings)
			}
			var files []string
			if cfg.CacheDir != "" {
				files, _ = filepath.Glob(filepath.Join(cfg.CacheDir, journalFolder, "*.jsonl"))
			}
			if strings.Contains(warning, "cache_dir/journal") {
				t.Errorf("warning %q points at cache_dir/journal", warning)
			}
			if cache == "writable" {
				if len(files) != 1 {
					t.Fatalf("journal files %q; want the apply's one", files)
				}
				if body, err := os.ReadFile(files[0]); err != nil || !strings.Contains(string(body), batch.Manifests[0].Digest) {
					t.Errorf("journal file %s: %v %q; want pr-1's image in it", files[0], err, body)
				}
				if !strings.Contains(warning, files[0]) || !strings.Contains(warning, "registry_restore cannot put back") {
					t.Errorf("warning %q; want the file %s named, and registry_restore said unable", warning, files[0])
				}
				return
			}
			if len(files) != 0 {
				t.Fatalf("journal files %q; want none", files)
			}
			if !strings.Contains(warning, "nowhere but in this apply's memory") || !strings.Contains(warning, "registry_restore cannot put back") {
				t.Errorf("warning %q; want it said that the journal is kept nowhere but in the apply's memory", warning)
			}
			if cache == "unwritable" && !strings.Contains(warning, "failed too") {
				t.Errorf("warning %q; want the failed write named", warning)
			}
		})
	}
}

// TestReview51UnwritableJournalFileIsSaid: the registry stores the journal
// but cache_dir/journal cannot be written: the apply says so, once, and
// that registry_restore finds the registry's copy.
func TestReview51UnwritableJournalFileIsSaid(t *testing.T) {
	reg := testregistry.Start(t)
	const repo = "review51/journal-file"
	created := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	for _, tag := range []string{"pr-1", "pr-2", "stable"} {
		if _, err := reg.PushImage(repo, created, tag); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Config{URL: reg.URL, CacheDir: t.TempDir(), MaxConcurrency: 1}
	if err := os.WriteFile(filepath.Join(cfg.CacheDir, journalFolder), []byte("not a folder"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, cfg)
	batch := planBatch(t, c, repo, deletePR())
	batch.inOrder = true // a chunk each: the file fails once, and is said once
	report, err := c.ExecuteBatches(context.Background(), []Batch{batch})
	if err != nil || report.Deleted != 2 {
		t.Fatalf("apply: %v, report %+v; want pr-1's and pr-2's images deleted", err, report)
	}
	if len(report.Warnings) != 1 || !strings.Contains(report.Warnings[0], "could not be written to") || !strings.Contains(report.Warnings[0], "stored in the registry") {
		t.Fatalf("warnings %q; want one saying the file could not be written and the registry holds the journal", report.Warnings)
	}
}
