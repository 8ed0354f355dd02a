package lambda

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Lambda's deployment package limits.
const (
	maxZippedCode   = 50 << 20  // 52428800: CodeSizeZipped
	maxUnzippedCode = 250 << 20 // 262144000: CodeSizeUnzipped
	maxTotalCode    = 75 << 30  // 80530636800: TotalCodeSize
)

// storedCode is a deployment package kept under the code directory.
type storedCode struct {
	Sha256 string // base64, Lambda's CodeSha256
	Hash   string // hex, the file and directory name
	Size   int64
}

// saveCode checks that zipFile is a zip Lambda would take, stores it by its
// SHA-256 (so identical packages are kept once) and unpacks it once into
// the directory the runner mounts at /var/task.
func (a *API) saveCode(zipFile []byte) (storedCode, error) {
	if len(zipFile) > maxZippedCode {
		return storedCode{}, errInvalidParameter("Zipped size must be smaller than %d bytes", maxZippedCode)
	}
	zr, err := zip.NewReader(bytes.NewReader(zipFile), int64(len(zipFile)))
	if err != nil {
		return storedCode{}, errInvalidParameter("Could not unzip uploaded file. Please check your file, then try to upload again.")
	}
	var unzipped uint64
	for _, f := range zr.File {
		unzipped += f.UncompressedSize64
	}
	if unzipped > maxUnzippedCode {
		return storedCode{}, errInvalidParameter("Unzipped size must be smaller than %d bytes", maxUnzippedCode)
	}
	sum := sha256.Sum256(zipFile)
	sc := storedCode{Sha256: base64.StdEncoding.EncodeToString(sum[:]), Hash: hex.EncodeToString(sum[:]), Size: int64(len(zipFile))}

	a.unpackMu.Lock()
	defer a.unpackMu.Unlock()
	dir := a.codePath(sc.Hash)
	if _, err := os.Stat(dir); err == nil {
		return sc, nil
	}
	if err := os.MkdirAll(a.codeDir, 0o755); err != nil {
		return storedCode{}, errInternal(err, "create code directory")
	}
	zipPath := dir + ".zip"
	if err := writeFileAtomic(zipPath, zipFile); err != nil {
		return storedCode{}, errInternal(err, "store code %s", sc.Hash)
	}
	tmp, err := os.MkdirTemp(a.codeDir, ".unpack-")
	if err == nil {
		// MkdirTemp makes 0700; the runtime runs as Lambda's unprivileged
		// user and must enter /var/task.
		err = os.Chmod(tmp, 0o755)
	}
	if err != nil {
		return storedCode{}, errInternal(err, "unpack code %s", sc.Hash)
	}
	if err := unpackZip(zr, tmp); err != nil {
		os.RemoveAll(tmp)
		return storedCode{}, errInvalidParameter("Could not unzip uploaded file. Please check your file, then try to upload again.")
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		return storedCode{}, errInternal(err, "unpack code %s", sc.Hash)
	}
	return sc, nil
}

// codePath is the unpacked directory of a package; the zip is beside it.
func (a *API) codePath(hash string) string { return filepath.Join(a.codeDir, hash) }

func writeFileAtomic(name string, data []byte) error {
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, name); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return nil
}

// unpackZip extracts every entry under dir, keeping execute bits. Entries
// that would land outside dir are refused; symbolic links are made last,
// so no file is ever written through one.
func unpackZip(zr *zip.Reader, dir string) error {
	var links []*zip.File
	for _, f := range zr.File {
		name := path.Clean("/" + strings.ReplaceAll(f.Name, "\\", "/"))
		if name == "/" {
			continue
		}
		target := filepath.Join(dir, filepath.FromSlash(name))
		mode := f.Mode()
		switch {
		case mode&fs.ModeSymlink != 0:
			links = append(links, f)
		case f.FileInfo().IsDir() || strings.HasSuffix(f.Name, "/"):
			if err := os.MkdirAll(target, 0o755); err != nil {
				return fmt.Errorf("unpack %s: %w", f.Name, err)
			}
		default:
			if err := unpackFile(f, target, mode); err != nil {
				return err
			}
		}
	}
	for _, f := range links {
		name := path.Clean("/" + f.Name)
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("unpack %s: %w", f.Name, err)
		}
		dest, err := io.ReadAll(io.LimitReader(rc, 4096))
		rc.Close()
		if err != nil {
			return fmt.Errorf("unpack %s: %w", f.Name, err)
		}
		target := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return fmt.Errorf("unpack %s: %w", f.Name, err)
		}
		if err := os.Symlink(string(dest), target); err != nil {
			return fmt.Errorf("unpack %s: %w", f.Name, err)
		}
	}
	return nil
}

func unpackFile(f *zip.File, target string, mode fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return fmt.Errorf("unpack %s: %w", f.Name, err)
	}
	perm := fs.FileMode(0o644)
	if mode&0o111 != 0 {
		perm = 0o755
	}
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("unpack %s: %w", f.Name, err)
	}
	defer rc.Close()
	out, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return fmt.Errorf("unpack %s: %w", f.Name, err)
	}
	if _, err := io.Copy(out, io.LimitReader(rc, maxUnzippedCode+1)); err != nil {
		out.Close()
		return fmt.Errorf("unpack %s: %w", f.Name, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("unpack %s: %w", f.Name, err)
	}
	return nil
}

// codeLocation is where GetFunction says the package can be downloaded.
func (a *API) codeLocation(hash string) string {
	return fmt.Sprintf("http://localhost:%d%s%s.zip", a.urlPort, CodePathPrefix, hash)
}

// CodePathPrefix is the path under which CodeHandler serves packages.
const CodePathPrefix = "/_nimbus/lambda/code/"

// CodeHandler serves deployment packages at CodePathPrefix + HASH.zip, the
// Code.Location GetFunction returns. Packages are named by their SHA-256, so
// the URL is as hard to guess as AWS's presigned one.
func (a *API) CodeHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, CodePathPrefix)
		hash, ok := strings.CutSuffix(name, ".zip")
		if _, err := hex.DecodeString(hash); !ok || err != nil || len(hash) != 64 {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/zip")
		http.ServeFile(w, r, a.codePath(hash)+".zip")
	})
}
