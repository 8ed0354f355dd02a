package lambdart

import "testing"

func TestPreloadsAndStartupVariables(t *testing.T) {
	py := Runtime{Name: "python3.11", Family: FamilyPython, Interpreter: "/usr/bin/python3"}
	node := Runtime{Name: "nodejs20.x", Family: FamilyNodeJS, Interpreter: "/usr/bin/node"}
	provided := Runtime{Name: "provided.al2023", Family: FamilyProvided}
	if !py.Preloads() || !node.Preloads() || provided.Preloads() {
		t.Errorf("Preloads: python %v, node %v, provided %v; want true, true, false", py.Preloads(), node.Preloads(), provided.Preloads())
	}
	cases := []struct {
		rt   Runtime
		key  string
		want bool
	}{
		{py, "PYTHONPATH", true},
		{py, "PYTHONWARNINGS", true},
		{py, "NODE_OPTIONS", false},
		{node, "NODE_OPTIONS", true},
		{node, "UV_THREADPOOL_SIZE", true},
		{node, "PYTHONPATH", false},
		{py, "LD_LIBRARY_PATH", true},
		{node, "LD_PRELOAD", true},
		{py, "LANG", true},
		{py, "LC_ALL", true},
		{node, "TZ", true},
		{py, "AWS_LAMBDA_EXEC_WRAPPER", true},
		{py, "MY_VAR", false},
		{node, "AWS_REGION", false},
	}
	for _, c := range cases {
		if got := c.rt.ReadsAtStartup(c.key); got != c.want {
			t.Errorf("%s ReadsAtStartup(%s) = %v; want %v", c.rt.Name, c.key, got, c.want)
		}
	}
}
