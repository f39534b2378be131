package k8s

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// metav1ObjectMeta names the metadata every object has.
type metav1ObjectMeta = metav1.ObjectMeta

// ServiceMonitor is the Prometheus Operator's ServiceMonitor (monitoring.coreos.com/v1), a CRD
// k8s.io/api does not have: the fields the manifests use, spelt as in the operator's CRD, so
// strict decoding refuses any other.
type ServiceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              ServiceMonitorSpec `json:"spec"`
}

// ServiceMonitorSpec selects the Services to scrape and how.
type ServiceMonitorSpec struct {
	// Selector picks the Services (by their labels) in the ServiceMonitor's namespace.
	Selector metav1.LabelSelector `json:"selector"`
	// Endpoints are the Service ports to scrape.
	Endpoints []ServiceMonitorEndpoint `json:"endpoints"`
	// JobLabel names the Service label whose value becomes the job label.
	JobLabel string `json:"jobLabel,omitempty"`
}

// ServiceMonitorEndpoint is one scraped port of the selected Services.
type ServiceMonitorEndpoint struct {
	// Port is the Service port's name.
	Port string `json:"port"`
	// Path is the HTTP path of the metrics.
	Path string `json:"path,omitempty"`
	// Interval and ScrapeTimeout are Prometheus durations such as 15s.
	Interval      string `json:"interval,omitempty"`
	ScrapeTimeout string `json:"scrapeTimeout,omitempty"`
	Scheme        string `json:"scheme,omitempty"`
}
