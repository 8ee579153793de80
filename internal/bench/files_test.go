package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"
	"github.com/opencontainers/go-digest"

	"github.com/distreg/terraform-provider-registry/internal/testregistry"
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

// On MinIO, sameFiles compares the objects' files on disk (xl.meta): a
// hard-linked copy must be served as the same objects, and an object
// deleted through the driver must show as a file gone.
func TestSameFilesSeesMinIOObjects(t *testing.T) {
	ctx := context.Background()
	minio := testregistry.StartMinIO(t)
	if err := minio.CreateBucket(gcBucket); err != nil {
		t.Fatal(err)
	}
	open := func(root string) (storagedriver.StorageDriver, string) {
		t.Helper()
		d, err := factory.Create(ctx, "s3", minio.S3Parameters(gcBucket, root))
		if err != nil {
			t.Fatal(err)
		}
		return d, filepath.Join(minio.DataDir, gcBucket, root)
	}
	refDriver, refFiles := open("/reference")
	ourDriver, ourFiles := open("/ours")
	layer := []byte("layer")
	if err := putAll(ctx, refDriver, blobFiles("app", layer)); err != nil {
		t.Fatal(err)
	}
	if err := hardLinkCopy(ctx, refFiles, ourFiles); err != nil {
		t.Fatal(err)
	}
	if err := sameFiles(ctx, refFiles, ourFiles); err != nil {
		t.Fatalf("a hard-linked copy: %v", err)
	}
	data := blobDataPath(digest.FromBytes(layer))
	if got, err := ourDriver.GetContent(ctx, data); err != nil || string(got) != string(layer) {
		t.Fatalf("the hard-linked copy serves %s as %q, %v; want %q", data, got, err, layer)
	}
	if err := ourDriver.Delete(ctx, data); err != nil {
		t.Fatal(err)
	}
	err := sameFiles(ctx, refFiles, ourFiles)
	if want := "differs or only in the reference's copy: " + strings.TrimPrefix(data, "/") + "/xl.meta"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("after deleting %s from our copy: got %v, want an error naming %q", data, err, want)
	}
}

func TestRemoveTreeRemovesEverything(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	for d := range 40 { // more directories than removers, so that some go inline
		for f := range 3 {
			p := filepath.Join(dir, "blobs", fmt.Sprintf("%02x", d), "hex", "data", fmt.Sprint(f))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	removeTree(dir)
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Errorf("after removeTree, %s: %v, want it gone", dir, err)
	}
}
