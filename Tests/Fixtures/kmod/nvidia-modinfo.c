static const char a[] __attribute__((section(".modinfo"), used, aligned(1))) = "alias=pci:v000010DEd*sv*sd*bc03sc*i*";
static const char l[] __attribute__((section(".modinfo"), used, aligned(1))) = "license=GPL";
static const char n[] __attribute__((section(".modinfo"), used, aligned(1))) = "name=nvidia";
static const char t[] __attribute__((section(".gnu.linkonce.this_module"), used)) = "x";
