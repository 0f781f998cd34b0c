window.Chart = null;  // libjs-chart.js was not installed when mstar was built
