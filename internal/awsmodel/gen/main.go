// Command gen copies the AWS API models nimbus serves from the aws-sdk-go (v1)
// module into internal/awsmodel/models as compact, gzipped JSON, so the binary
// embeds them. Run it through `go generate ./internal/awsmodel`.
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// services maps nimbus's service key to the model directory and version.
var services = map[string]string{
	"ec2":    "ec2/2016-11-15",
	"sts":    "sts/2011-06-15",
	"iam":    "iam/2010-05-08",
	"logs":   "logs/2014-03-28",
	"lambda": "lambda/2015-03-31",
	"batch":  "batch/2016-08-10",
	"s3":     "s3/2006-03-01",
	"ce":     "ce/2017-10-25",
}

const module = "github.com/aws/aws-sdk-go"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run() error {
	out, err := exec.Command("go", "mod", "download", "-json", module+"@v1.55.8").Output()
	if err != nil {
		return fmt.Errorf("download %s: %w", module, err)
	}
	var info struct{ Dir string }
	if err := json.Unmarshal(out, &info); err != nil {
		return err
	}
	for key, rel := range services {
		src := filepath.Join(info.Dir, "models", "apis", rel, "api-2.json")
		raw, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
		var gz bytes.Buffer
		w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		w.Write(buf.Bytes())
		w.Close()
		dst := filepath.Join("models", key+".json.gz")
		if err := os.WriteFile(dst, gz.Bytes(), 0o644); err != nil {
			return err
		}
		fmt.Printf("%-7s %s %d -> %d bytes\n", key, strings.TrimPrefix(rel, ""), len(raw), gz.Len())
	}
	return nil
}
