package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The GC cases rest on sameFiles: a copy it calls equal must be.
func TestSameFilesFindsEveryDifference(t *testing.T) {
	ctx := context.Background()
	ref, ours := t.TempDir(), t.TempDir()
	write := func(root, rel, content string) {
		t.Helper()
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, root := range []string{ref, ours} {
		write(root, "blobs/sha256/aa/aa1/data", "layer")
		write(root, "repositories/app/_layers/sha256/aa1/link", "sha256:aa1")
	}
	if err := sameFiles(ctx, ref, ours); err != nil {
		t.Fatalf("identical copies: %v", err)
	}
	for _, c := range []struct {
		name, want string
		change     func()
	}{
		{"a file only in ours", "only in our copy: blobs/sha256/bb/bb1/data", func() { write(ours, "blobs/sha256/bb/bb1/data", "x") }},
		{"a size that differs", "differs or only in the reference's copy: blobs/sha256/aa/aa1/data", func() { write(ours, "blobs/sha256/aa/aa1/data", "layer!") }},
		{"a file only in the reference's", "differs or only in the reference's copy: repositories/app/_layers/sha256/aa1/link", func() {
			if err := os.Remove(filepath.Join(ours, "repositories/app/_layers/sha256/aa1/link")); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		c.change()
		err := sameFiles(ctx, ref, ours)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error naming %q", c.name, err, c.want)
		}
	}
}
