package main

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
)

// walkersInFlight bounds the directories read at once while walking a
// copy's files: a disk serves random reads faster with several queued.
const walkersInFlight = 16

// walkFiles calls visit, from several goroutines at once, with the path
// of every regular file below dir and its entry.
func walkFiles(ctx context.Context, dir string, visit func(path string, entry fs.DirEntry) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(walkersInFlight)
	var readDir func(dir string) error
	readDir = func(dir string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			switch {
			case e.IsDir():
				if !g.TryGo(func() error { return readDir(p) }) {
					if err := readDir(p); err != nil { // every walker busy: this one goes on itself
						return err
					}
				}
			case e.Type().IsRegular():
				if err := visit(p, e); err != nil {
					return err
				}
			}
		}
		return nil
	}
	g.Go(func() error { return readDir(dir) })
	return g.Wait()
}

// startClean readies the copy whose files are below dir for a GC run and
// returns how long that took. It flushes to disk what this machine has
// written and not yet stored (sync): otherwise a run pays for writing
// back what came before it, the generated store for the reference's, the
// reference's deletions for ours. Then it reads every file of the copy
// (warm): otherwise the reference starts on a copy the checks before it
// have just read, and ours on one that sat idle through the reference's
// run (half an hour at 100,000 manifests on MinIO), which this machine
// pages out of its cache after about a minute (DAMON), so that the ratio
// measured the cache as much as the GCs.
func startClean(ctx context.Context, dir string) (time.Duration, error) {
	start := time.Now()
	syscall.Sync()
	err := walkFiles(ctx, dir, func(path string, _ fs.DirEntry) error {
		_, err := os.ReadFile(path)
		return err
	})
	return time.Since(start), err
}

// filesBelow is the size of every regular file below dir, by its path
// relative to dir.
func filesBelow(ctx context.Context, dir string) (map[string]int64, error) {
	var mu sync.Mutex
	files := map[string]int64{}
	err := walkFiles(ctx, dir, func(path string, entry fs.DirEntry) error {
		info, err := entry.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		files[rel] = info.Size()
		return nil
	})
	return files, err
}

// removeTree removes dir and everything below it, several directories at
// once: os.RemoveAll, one entry at a time, took minutes over the millions
// of files and directories the 100,000-manifest stores leave. Whatever a
// failure leaves, os.RemoveAll removes after.
func removeTree(dir string) {
	var g errgroup.Group
	g.SetLimit(walkersInFlight)
	var remove func(dir string) error
	remove = func(dir string) error {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		var children sync.WaitGroup
		errs := make([]error, len(entries))
		for i, e := range entries {
			p := filepath.Join(dir, e.Name())
			if !e.IsDir() {
				errs[i] = os.Remove(p)
				continue
			}
			children.Add(1)
			removeChild := func() error {
				defer children.Done()
				errs[i] = remove(p)
				return nil
			}
			if !g.TryGo(removeChild) {
				_ = removeChild() // every remover busy: this one goes on itself
			}
		}
		children.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
		return os.Remove(dir)
	}
	err := remove(dir)
	_ = g.Wait()
	if err != nil {
		_ = os.RemoveAll(dir)
	}
}
