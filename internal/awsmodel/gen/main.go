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
		compact, err := withMemberOrder(raw)
		if err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, compact); err != nil {
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

// withMemberOrder adds to every structure shape a "memberOrder" list with
// its members in document order, so the loader need not parse each shape
// twice to recover an order that JSON objects do not keep. Metadata stays
// the first key so it can be read without parsing the rest.
func withMemberOrder(raw []byte) ([]byte, error) {
	var doc struct {
		Version    json.RawMessage            `json:"version"`
		Metadata   json.RawMessage            `json:"metadata"`
		Operations json.RawMessage            `json:"operations"`
		Shapes     map[string]json.RawMessage `json:"shapes"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	for name, sh := range doc.Shapes {
		order, err := memberOrder(sh)
		if err != nil {
			return nil, fmt.Errorf("shape %s: %w", name, err)
		}
		if order == nil {
			continue
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(sh, &m); err != nil {
			return nil, err
		}
		m["memberOrder"], _ = json.Marshal(order)
		if doc.Shapes[name], err = json.Marshal(m); err != nil {
			return nil, err
		}
	}
	shapes, err := json.Marshal(doc.Shapes)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.WriteString(`{"metadata":`)
	out.Write(doc.Metadata)
	out.WriteString(`,"version":`)
	out.Write(doc.Version)
	out.WriteString(`,"operations":`)
	out.Write(doc.Operations)
	out.WriteString(`,"shapes":`)
	out.Write(shapes)
	out.WriteString("}")
	return out.Bytes(), nil
}

func memberOrder(raw json.RawMessage) ([]string, error) {
	var probe struct {
		Type    string          `json:"type"`
		Members json.RawMessage `json:"members"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil || probe.Type != "structure" || len(probe.Members) == 0 {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(probe.Members))
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	order := []string{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		order = append(order, t.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return order, nil
}
