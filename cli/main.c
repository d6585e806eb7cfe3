#include <stdio.h>
int main(void)
{
	puts("radfed " RADFED_VERSION);
	return 0;
}
