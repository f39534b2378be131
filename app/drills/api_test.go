package drills

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/product-service-lab/product-service/app/internal/catalog"
	"github.com/product-service-lab/product-service/app/internal/lab"
)

// product is a product detail as the API answers it.
type product = catalog.Product

// replaceWith is the body of PUT /api/v1/products/{id} that keeps p as it is but for name and
// stock.
func replaceWith(p product, name string, stock int64) catalog.ProductInput {
	price := p.PriceCents
	return catalog.ProductInput{SKU: p.SKU, Name: name, Description: p.Description, PriceCents: &price,
		Currency: p.Currency, CategoryID: p.Category.ID, IsHot: p.IsHot, Stock: &stock}
}

// apiClient talks to one service.
type apiClient struct {
	http *http.Client
	base string
}

func newAPIClient(base string) *apiClient {
	return &apiClient{base: base, http: &http.Client{Timeout: 20 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 100}}}
}

// do sends a request with the admin token and decodes a 2xx JSON answer into out; it returns the
// status (0 when no answer came).
func (c *apiClient) do(ctx context.Context, method, path string, body any, header http.Header, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(raw))
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// get reads a product.
func (c *apiClient) get(ctx context.Context, id int64) (product, int, error) {
	var p product
	status, err := c.do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/products/%d", id), nil, nil, &p)
	return p, status, err
}

// put updates a product, with If-Match naming version when it is not 0.
func (c *apiClient) put(ctx context.Context, id int64, body catalog.ProductInput, version int64) (product, int, error) {
	h := http.Header{}
	if version != 0 {
		h.Set("If-Match", fmt.Sprintf(`"%d-%d"`, id, version))
	}
	var p product
	status, err := c.do(ctx, http.MethodPut, fmt.Sprintf("/api/v1/products/%d", id), body, h, &p)
	return p, status, err
}

// scrape reads /metrics (lab.Scrape).
func (c *apiClient) scrape(ctx context.Context) ([]*dto.MetricFamily, error) {
	return lab.Scrape(ctx, c.http, c.base+"/metrics")
}

// metricSum scrapes /metrics and sums the samples of name whose labels include match
// (lab.MetricSum).
func (c *apiClient) metricSum(ctx context.Context, name string, match map[string]string) (float64, error) {
	families, err := c.scrape(ctx)
	if err != nil {
		return 0, err
	}
	return lab.MetricSum(families, name, match), nil
}

// status sends a GET without the token and returns the status (0: no answer).
func status(ctx context.Context, client *http.Client, url string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// isProblem reports whether an error text carries a problem+json body (the do error quotes it).
func isProblem(err error) bool {
	return err != nil && strings.Contains(err.Error(), `"type":"urn:product-service:problem:`)
}
