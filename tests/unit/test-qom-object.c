/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests of the object model (qom/object.h) and of user-creatable objects
 * (qom/object_interfaces.h). Aborting paths run in subprocesses.
 */
#include "qemu/osdep.h"

#include <pthread.h>
#include <sys/wait.h>

#include "qapi/error.h"
#include "qemu/keyval.h"
#include "qom/object.h"
#include "qom/object_interfaces.h"

/* What init, post-init, finalize and class_init did, in order. */
static GString *event_log;
static GPtrArray *class_init_order;

/*
 * Protects event_log: objects may be made in several threads. (A pthread
 * mutex, which ThreadSanitizer sees, unlike GLib's futex-based GMutex.)
 */
static pthread_mutex_t event_log_lock = PTHREAD_MUTEX_INITIALIZER;

static void log_event(const char *what)
{
    pthread_mutex_lock(&event_log_lock);
    if (event_log->len) {
        g_string_append_c(event_log, ',');
    }
    g_string_append(event_log, what);
    pthread_mutex_unlock(&event_log_lock);
}

/* Returns the log and empties it. */
static char *take_log(void)
{
    char *text = g_strdup(event_log->str);

    g_string_truncate(event_log, 0);
    return text;
}

static void clear_log(void)
{
    g_string_truncate(event_log, 0);
}

static int class_init_index(const char *name)
{
    for (guint i = 0; i < class_init_order->len; i++) {
        if (strcmp(g_ptr_array_index(class_init_order, i), name) == 0) {
            return i;
        }
    }
    return -1;
}

/* An interface. */

#define TYPE_TEST_NAMED "test-named"
OBJECT_DECLARE_TYPE(TestNamed, TestNamedClass, TEST_NAMED)

struct TestNamedClass {
    InterfaceClass parent_class;
    const char *(*describe)(Object *obj);
};

/* test-animal (abstract) <- test-dog (test-named) <- test-puppy */

#define TYPE_TEST_ANIMAL "test-animal"
OBJECT_DECLARE_TYPE(TestAnimal, TestAnimalClass, TEST_ANIMAL)

struct TestAnimal {
    Object parent_obj;
    int generation;
};

struct TestAnimalClass {
    ObjectClass parent_class;
    const char *(*speak)(TestAnimal *animal);
    int legs;
    const char *kingdom;
};

#define TYPE_TEST_DOG "test-dog"
OBJECT_DECLARE_TYPE(TestDog, TestDogClass, TEST_DOG)

struct TestDog {
    TestAnimal parent_obj;
    int tricks;
};

struct TestDogClass {
    TestAnimalClass parent_class;
    bool loyal;
};

#define TYPE_TEST_PUPPY "test-puppy"
OBJECT_DECLARE_SIMPLE_TYPE(TestPuppy, TEST_PUPPY)

struct TestPuppy {
    TestDog parent_obj;
    int age_weeks;
};

static const char *animal_speak(TestAnimal *animal)
{
    return "...";
}

static void animal_class_init(ObjectClass *oc, void *data)
{
    TestAnimalClass *ac = TEST_ANIMAL_CLASS(oc);

    g_ptr_array_add(class_init_order, (gpointer)TYPE_TEST_ANIMAL);
    ac->speak = animal_speak;
    ac->legs = 2;
    ac->kingdom = data;
}

static void animal_init(Object *obj)
{
    TEST_ANIMAL(obj)->generation = 1;
    log_event("animal-init");
}

static void animal_post_init(Object *obj)
{
    log_event("animal-post");
}

static void animal_finalize(Object *obj)
{
    log_event("animal-fin");
}

static const char *dog_speak(TestAnimal *animal)
{
    return "woof";
}

static const char *dog_describe(Object *obj)
{
    return "a dog";
}

static void dog_class_init(ObjectClass *oc, void *data)
{
    TestAnimalClass *ac = TEST_ANIMAL_CLASS(oc);

    g_ptr_array_add(class_init_order, (gpointer)TYPE_TEST_DOG);
    /* The parent's class_init already ran on this copy. */
    g_assert_cmpint(ac->legs, ==, 2);
    ac->legs = 4;
    ac->speak = dog_speak;
    TEST_DOG_CLASS(oc)->loyal = true;
    TEST_NAMED_CLASS(oc)->describe = dog_describe;
}

static void dog_init(Object *obj)
{
    /* The parent's instance_init ran first. */
    g_assert_cmpint(TEST_ANIMAL(obj)->generation, ==, 1);
    TEST_DOG(obj)->tricks = 3;
    log_event("dog-init");
}

static void dog_finalize(Object *obj)
{
    log_event("dog-fin");
}

static const char *puppy_describe(Object *obj)
{
    return "a puppy";
}

static void puppy_class_init(ObjectClass *oc, void *data)
{
    g_ptr_array_add(class_init_order, (gpointer)TYPE_TEST_PUPPY);
    /* Inherited from test-dog's class. */
    g_assert_true(TEST_DOG_CLASS(oc)->loyal);
    g_assert_true(TEST_NAMED_CLASS(oc)->describe == dog_describe);
    TEST_NAMED_CLASS(oc)->describe = puppy_describe;
}

static void puppy_init(Object *obj)
{
    TEST_PUPPY(obj)->age_weeks = 8;
    log_event("puppy-init");
}

static void puppy_post_init(Object *obj)
{
    log_event("puppy-post");
}

static void puppy_finalize(Object *obj)
{
    log_event("puppy-fin");
}

/* A user-creatable type with a property of every kind. */

#define TYPE_TEST_BACKEND "test-backend"
OBJECT_DECLARE_SIMPLE_TYPE(TestBackend, TEST_BACKEND)

typedef enum TestMode {
    TEST_MODE_NONE,
    TEST_MODE_FAST,
    TEST_MODE_SAFE,
} TestMode;

static const char *const test_mode_lookup[] = { "none", "fast", "safe", NULL };

struct TestBackend {
    Object parent_obj;
    char *path;
    bool readonly;
    TestMode mode;
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    int32_t i32;
    int64_t i64;
    uint64_t buf_size;
    int64_t level;
    uint64_t max_conn;
    uint64_t limit;
    bool fail_complete;
    bool busy;
    int completed;
};

static int live_backends;

static char *backend_get_path(Object *obj, Error **errp)
{
    return g_strdup(TEST_BACKEND(obj)->path);
}

static void backend_set_path(Object *obj, const char *value, Error **errp)
{
    TestBackend *tb = TEST_BACKEND(obj);

    if (!*value) {
        error_setg(errp, "path must not be empty");
        return;
    }
    g_free(tb->path);
    tb->path = g_strdup(value);
}

static bool backend_get_readonly(Object *obj, Error **errp)
{
    return TEST_BACKEND(obj)->readonly;
}

static void backend_set_readonly(Object *obj, bool value, Error **errp)
{
    TEST_BACKEND(obj)->readonly = value;
}

static int backend_get_mode(Object *obj, Error **errp)
{
    return TEST_BACKEND(obj)->mode;
}

static void backend_set_mode(Object *obj, int value, Error **errp)
{
    TEST_BACKEND(obj)->mode = value;
}

static bool backend_get_level(Object *obj, int64_t *value, Error **errp)
{
    *value = TEST_BACKEND(obj)->level;
    return true;
}

static bool backend_set_level(Object *obj, int64_t value, Error **errp)
{
    if (value == 7) {
        error_setg(errp, "level 7 is reserved");
        return false;
    }
    TEST_BACKEND(obj)->level = value;
    return true;
}

static bool backend_get_max_conn(Object *obj, uint64_t *value, Error **errp)
{
    *value = TEST_BACKEND(obj)->max_conn;
    return true;
}

static bool backend_set_max_conn(Object *obj, uint64_t value, Error **errp)
{
    TEST_BACKEND(obj)->max_conn = value;
    return true;
}

static bool backend_get_limit(Object *obj, uint64_t *value, Error **errp)
{
    *value = TEST_BACKEND(obj)->limit;
    return true;
}

static bool backend_set_limit(Object *obj, uint64_t value, Error **errp)
{
    TEST_BACKEND(obj)->limit = value;
    return true;
}

static char *backend_get_state(Object *obj, Error **errp)
{
    return g_strdup(TEST_BACKEND(obj)->completed ? "running" : "new");
}

static void backend_set_secret(Object *obj, const char *value, Error **errp)
{
}

static bool backend_get_fail(Object *obj, Error **errp)
{
    return TEST_BACKEND(obj)->fail_complete;
}

static void backend_set_fail(Object *obj, bool value, Error **errp)
{
    TEST_BACKEND(obj)->fail_complete = value;
}

static bool backend_get_busy(Object *obj, Error **errp)
{
    return TEST_BACKEND(obj)->busy;
}

static void backend_set_busy(Object *obj, bool value, Error **errp)
{
    TEST_BACKEND(obj)->busy = value;
}

static void backend_complete(UserCreatable *uc, Error **errp)
{
    TestBackend *tb = TEST_BACKEND(uc);

    if (tb->fail_complete) {
        error_setg(errp, "backend at '%s' refuses to start",
                   tb->path ? tb->path : "(none)");
        return;
    }
    tb->completed++;
}

static bool backend_can_be_deleted(UserCreatable *uc)
{
    return !TEST_BACKEND(uc)->busy;
}

static void backend_class_init(ObjectClass *oc, void *data)
{
    UserCreatableClass *ucc = USER_CREATABLE_CLASS(oc);

    ucc->complete = backend_complete;
    ucc->can_be_deleted = backend_can_be_deleted;

    object_class_property_add_str(oc, "path", backend_get_path,
                                  backend_set_path);
    object_class_property_set_description(oc, "path",
                                          "where the data lives");
    object_class_property_add_bool(oc, "readonly", backend_get_readonly,
                                   backend_set_readonly);
    object_class_property_add_enum(oc, "mode", test_mode_lookup,
                                   backend_get_mode, backend_set_mode);
    object_class_property_add_uint8_ptr(oc, "u8",
                                        offsetof(TestBackend, u8),
                                        OBJ_PROP_FLAG_READWRITE);
    object_class_property_add_uint16_ptr(oc, "u16",
                                         offsetof(TestBackend, u16),
                                         OBJ_PROP_FLAG_READWRITE);
    object_class_property_add_uint32_ptr(oc, "u32",
                                         offsetof(TestBackend, u32),
                                         OBJ_PROP_FLAG_READWRITE);
    object_class_property_add_uint64_ptr(oc, "u64",
                                         offsetof(TestBackend, u64),
                                         OBJ_PROP_FLAG_READWRITE);
    object_class_property_add_int32_ptr(oc, "i32",
                                        offsetof(TestBackend, i32),
                                        OBJ_PROP_FLAG_READWRITE);
    object_class_property_add_int64_ptr(oc, "i64",
                                        offsetof(TestBackend, i64),
                                        OBJ_PROP_FLAG_READWRITE);
    object_class_property_add_size_ptr(oc, "buf-size",
                                       offsetof(TestBackend, buf_size),
                                       OBJ_PROP_FLAG_READWRITE);
    object_class_property_add_uint32_ptr(oc, "generation",
                                         offsetof(TestBackend, completed),
                                         OBJ_PROP_FLAG_READ);
    object_class_property_add_int(oc, "level", -10, 10, backend_get_level,
                                  backend_set_level);
    object_class_property_add_uint(oc, "max-conn", 1000,
                                   backend_get_max_conn,
                                   backend_set_max_conn);
    object_class_property_add_size(oc, "limit", backend_get_limit,
                                   backend_set_limit);
    object_class_property_add_str(oc, "state", backend_get_state, NULL);
    object_class_property_add_str(oc, "secret", NULL, backend_set_secret);
    object_class_property_add_bool(oc, "fail-complete", backend_get_fail,
                                   backend_set_fail);
    object_class_property_add_bool(oc, "busy", backend_get_busy,
                                   backend_set_busy);
}

static void backend_init(Object *obj)
{
    TEST_BACKEND(obj)->buf_size = 4096;
    live_backends++;
}

static void backend_finalize(Object *obj)
{
    TestBackend *tb = TEST_BACKEND(obj);

    log_event(tb->path ? tb->path : "backend-fin");
    g_free(tb->path);
    live_backends--;
}

#define TYPE_TEST_ABSTRACT_BACKEND "test-abstract-backend"

/* Only used by the class-init-threads test, so its class starts unmade. */
#define TYPE_TEST_RACER "test-racer"

static int racer_class_inits;

static void racer_class_init(ObjectClass *oc, void *data)
{
    /* Give other threads time to race for the same class. */
    g_usleep(20 * 1000);
    __atomic_add_fetch(&racer_class_inits, 1, __ATOMIC_SEQ_CST);
    TEST_NAMED_CLASS(oc)->describe = dog_describe;
}

static const TypeInfo test_types[] = {
    {
        .name = TYPE_TEST_NAMED,
        .parent = TYPE_INTERFACE,
        .class_size = sizeof(TestNamedClass),
    }, {
        .name = TYPE_TEST_ANIMAL,
        .parent = TYPE_OBJECT,
        .abstract = true,
        .instance_size = sizeof(TestAnimal),
        .instance_init = animal_init,
        .instance_post_init = animal_post_init,
        .instance_finalize = animal_finalize,
        .class_size = sizeof(TestAnimalClass),
        .class_init = animal_class_init,
        .class_data = (void *)"animalia",
    }, {
        .name = TYPE_TEST_DOG,
        .parent = TYPE_TEST_ANIMAL,
        .instance_size = sizeof(TestDog),
        .instance_init = dog_init,
        .instance_finalize = dog_finalize,
        .class_size = sizeof(TestDogClass),
        .class_init = dog_class_init,
        .interfaces = (InterfaceInfo[]) {
            { TYPE_TEST_NAMED },
            { }
        },
    }, {
        .name = TYPE_TEST_PUPPY,
        .parent = TYPE_TEST_DOG,
        .instance_size = sizeof(TestPuppy),
        .instance_init = puppy_init,
        .instance_post_init = puppy_post_init,
        .instance_finalize = puppy_finalize,
        .class_init = puppy_class_init,
    }, {
        .name = TYPE_TEST_BACKEND,
        .parent = TYPE_OBJECT,
        .instance_size = sizeof(TestBackend),
        .instance_init = backend_init,
        .instance_finalize = backend_finalize,
        .class_init = backend_class_init,
        .interfaces = (InterfaceInfo[]) {
            { TYPE_USER_CREATABLE },
            { }
        },
    }, {
        .name = TYPE_TEST_RACER,
        .parent = TYPE_TEST_PUPPY,
        .class_init = racer_class_init,
        .interfaces = (InterfaceInfo[]) {
            { TYPE_TEST_NAMED },
            { }
        },
    }, {
        .name = TYPE_TEST_ABSTRACT_BACKEND,
        .parent = TYPE_OBJECT,
        .abstract = true,
        .interfaces = (InterfaceInfo[]) {
            { TYPE_USER_CREATABLE },
            { }
        },
    },
};

DEFINE_TYPES(test_types)

/* Tests: types, classes, instances. */

static void test_class_chain(void)
{
    ObjectClass *puppy = object_class_by_name(TYPE_TEST_PUPPY);
    ObjectClass *dog = object_class_by_name(TYPE_TEST_DOG);
    ObjectClass *animal = object_class_by_name(TYPE_TEST_ANIMAL);
    TestAnimalClass *ac;

    g_assert_nonnull(puppy);
    g_assert_null(object_class_by_name("no-such-type"));

    /* Each class_init ran once, parents first. */
    g_assert_cmpint(class_init_index(TYPE_TEST_ANIMAL), >=, 0);
    g_assert_cmpint(class_init_index(TYPE_TEST_ANIMAL), <,
                    class_init_index(TYPE_TEST_DOG));
    g_assert_cmpint(class_init_index(TYPE_TEST_DOG), <,
                    class_init_index(TYPE_TEST_PUPPY));
    g_assert_cmpuint(class_init_order->len, ==, 3);

    g_assert_true(object_class_get_parent(puppy) == dog);
    g_assert_true(object_class_get_parent(dog) == animal);
    g_assert_cmpstr(object_class_get_name(object_class_get_parent(animal)),
                    ==, TYPE_OBJECT);
    g_assert_null(object_class_get_parent(
                      object_class_by_name(TYPE_OBJECT)));
    g_assert_cmpstr(object_class_get_name(puppy), ==, "test-puppy");

    /* Class data and inherited class fields. */
    ac = TEST_ANIMAL_CLASS(animal);
    g_assert_cmpint(ac->legs, ==, 2);
    g_assert_cmpstr(ac->kingdom, ==, "animalia");
    ac = TEST_ANIMAL_CLASS(puppy);
    g_assert_cmpint(ac->legs, ==, 4);
    g_assert_cmpstr(ac->kingdom, ==, "animalia");
    g_assert_true(ac->speak == dog_speak);
    g_assert_true(TEST_ANIMAL_CLASS(animal)->speak == animal_speak);

    g_assert_true(object_class_is_abstract(animal));
    g_assert_false(object_class_is_abstract(dog));
    g_assert_true(object_class_is_abstract(
                      object_class_by_name(TYPE_OBJECT)));
    g_assert_false(object_class_is_abstract(
                       object_class_by_name(TYPE_CONTAINER)));
}

static void test_lifecycle(void)
{
    Object *obj = object_new(TYPE_TEST_PUPPY);
    g_autofree char *init_log = take_log();
    g_autofree char *fin_log = NULL;
    TestPuppy *puppy = TEST_PUPPY(obj);

    g_assert_cmpstr(init_log, ==, "animal-init,dog-init,puppy-init,"
                    "animal-post,puppy-post");
    g_assert_cmpint(puppy->parent_obj.tricks, ==, 3);
    g_assert_cmpint(puppy->age_weeks, ==, 8);
    g_assert_cmpstr(object_get_typename(obj), ==, TYPE_TEST_PUPPY);
    g_assert_true(object_get_class(obj) ==
                  object_class_by_name(TYPE_TEST_PUPPY));

    /* Extra references keep it alive. */
    g_assert_true(object_ref(puppy) == obj);
    object_ref(obj);
    object_unref(obj);
    object_unref(obj);
    g_assert_cmpuint(event_log->len, ==, 0);

    object_unref(obj);
    fin_log = take_log();
    g_assert_cmpstr(fin_log, ==, "puppy-fin,dog-fin,animal-fin");

    object_unref(NULL);
}

static void test_autoptr(void)
{
    g_autofree char *log = NULL;

    {
        g_autoptr(TestDog) dog = TEST_DOG(object_new(TYPE_TEST_DOG));

        g_assert_cmpint(dog->tricks, ==, 3);
    }
    log = take_log();
    g_assert_cmpstr(log, ==, "animal-init,dog-init,animal-post,"
                    "dog-fin,animal-fin");
}

static void test_initialize_embedded(void)
{
    struct {
        int before;
        TestDog dog;
        int after;
    } holder = { .before = 1, .after = 2 };
    g_autofree char *log = NULL;

    object_initialize(&holder.dog, sizeof(holder.dog), TYPE_TEST_DOG);
    g_assert_cmpint(holder.dog.tricks, ==, 3);
    g_assert_true(TEST_DOG(&holder.dog) == &holder.dog);
    object_unref(&holder.dog);
    /* Finalized, not freed: the surrounding storage is intact. */
    g_assert_cmpint(holder.before, ==, 1);
    g_assert_cmpint(holder.after, ==, 2);
    log = take_log();
    g_assert_cmpstr(log, ==, "animal-init,dog-init,animal-post,"
                    "dog-fin,animal-fin");
}

static void test_cast(void)
{
    g_autoptr(Object) obj = object_new(TYPE_TEST_PUPPY);
    g_autoptr(Object) dog = object_new(TYPE_TEST_DOG);
    ObjectClass *puppy_class = object_get_class(obj);

    g_assert_true((void *)TEST_DOG(obj) == obj);
    g_assert_true((void *)TEST_ANIMAL(obj) == obj);
    g_assert_true((void *)TEST_PUPPY(obj) == obj);
    g_assert_true(object_dynamic_cast(obj, TYPE_OBJECT) == obj);
    g_assert_true(object_dynamic_cast(obj, TYPE_TEST_ANIMAL) == obj);
    g_assert_null(object_dynamic_cast(dog, TYPE_TEST_PUPPY));
    g_assert_null(object_dynamic_cast(dog, "no-such-type"));
    g_assert_null(object_dynamic_cast(dog, TYPE_TEST_BACKEND));
    g_assert_null(object_dynamic_cast(NULL, TYPE_OBJECT));
    g_assert_null(TEST_DOG(NULL));

    /* Class casts. */
    g_assert_true(TEST_ANIMAL_GET_CLASS(obj)->speak(TEST_ANIMAL(obj)) ==
                  dog_speak(NULL));
    g_assert_true((void *)TEST_DOG_CLASS(puppy_class) == puppy_class);
    g_assert_true(object_class_dynamic_cast(puppy_class, TYPE_OBJECT) ==
                  puppy_class);
    g_assert_null(object_class_dynamic_cast(object_get_class(dog),
                                            TYPE_TEST_PUPPY));
    g_assert_null(object_class_dynamic_cast(NULL, TYPE_OBJECT));
    clear_log();
}

static void test_cast_fail(void)
{
    if (g_test_subprocess()) {
        Object *dog = object_new(TYPE_TEST_DOG);

        TEST_PUPPY(dog);
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_failed();
    /* The location is that of the cast function the macro made. */
    g_test_trap_assert_stderr("*test-qom-object.c:*: TEST_PUPPY(): object "
                              "of type 'test-dog' cannot be cast to "
                              "'test-puppy'\n");
}

static void test_class_cast_fail(void)
{
    if (g_test_subprocess()) {
        TEST_DOG_CLASS(object_class_by_name(TYPE_TEST_ANIMAL));
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_failed();
    g_test_trap_assert_stderr("*class 'test-animal' cannot be cast to "
                              "'test-dog'*");
}

static void test_new_abstract(void)
{
    if (g_test_subprocess()) {
        object_new(TYPE_TEST_ANIMAL);
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_failed();
    g_test_trap_assert_stderr("*QOM type 'test-animal' is abstract*");
}

static void test_interface(void)
{
    g_autoptr(Object) dog = object_new(TYPE_TEST_DOG);
    g_autoptr(Object) puppy = object_new(TYPE_TEST_PUPPY);
    g_autoptr(Object) backend = object_new(TYPE_TEST_BACKEND);
    TestNamedClass *dog_named = TEST_NAMED_GET_CLASS(dog);
    TestNamedClass *puppy_named = TEST_NAMED_GET_CLASS(puppy);

    /* An instance cast to an interface is the instance itself. */
    g_assert_true(object_dynamic_cast(dog, TYPE_TEST_NAMED) == dog);
    g_assert_true((void *)TEST_NAMED(puppy) == puppy);
    g_assert_true(object_dynamic_cast(dog, TYPE_INTERFACE) == dog);
    g_assert_null(object_dynamic_cast(backend, TYPE_TEST_NAMED));
    g_assert_null(object_dynamic_cast(dog, TYPE_USER_CREATABLE));
    g_assert_true(object_dynamic_cast(backend, TYPE_USER_CREATABLE) ==
                  backend);

    /* A class cast gives the class' own interface class. */
    g_assert_true((ObjectClass *)dog_named != object_get_class(dog));
    g_assert_true((ObjectClass *)dog_named != (ObjectClass *)puppy_named);
    g_assert_cmpstr(dog_named->describe(dog), ==, "a dog");
    g_assert_cmpstr(puppy_named->describe(puppy), ==, "a puppy");
    g_assert_true(INTERFACE_CLASS(dog_named) ==
                  (InterfaceClass *)dog_named);
    g_assert_true(object_class_dynamic_cast(object_get_class(dog),
                                            TYPE_TEST_NAMED) ==
                  (ObjectClass *)dog_named);
    g_assert_true(USER_CREATABLE_GET_CLASS(backend)->complete ==
                  backend_complete);
    clear_log();
}

static bool class_list_has(GSList *list, const char *name)
{
    for (GSList *l = list; l; l = l->next) {
        if (strcmp(object_class_get_name(l->data), name) == 0) {
            return true;
        }
    }
    return false;
}

static void test_class_list(void)
{
    GSList *list = object_class_get_list(TYPE_TEST_ANIMAL, false);

    g_assert_cmpuint(g_slist_length(list), ==, 3);
    g_assert_true(class_list_has(list, TYPE_TEST_DOG));
    g_assert_true(class_list_has(list, TYPE_TEST_PUPPY));
    g_assert_true(class_list_has(list, TYPE_TEST_RACER));
    g_slist_free(list);

    list = object_class_get_list(TYPE_TEST_ANIMAL, true);
    g_assert_cmpuint(g_slist_length(list), ==, 4);
    g_assert_true(class_list_has(list, TYPE_TEST_ANIMAL));
    g_slist_free(list);

    list = object_class_get_list(TYPE_TEST_NAMED, false);
    g_assert_cmpuint(g_slist_length(list), ==, 3);
    g_assert_false(class_list_has(list, TYPE_TEST_NAMED));
    g_slist_free(list);

    list = object_class_get_list_sorted(TYPE_USER_CREATABLE, false);
    g_assert_true(class_list_has(list, TYPE_TEST_BACKEND));
    g_assert_false(class_list_has(list, TYPE_TEST_ABSTRACT_BACKEND));
    g_assert_false(class_list_has(list, TYPE_TEST_DOG));
    g_slist_free(list);

    list = object_class_get_list_sorted(NULL, true);
    for (GSList *l = list; l && l->next; l = l->next) {
        g_assert_cmpstr(object_class_get_name(l->data), <,
                        object_class_get_name(l->next->data));
    }
    g_assert_true(class_list_has(list, TYPE_OBJECT));
    g_slist_free(list);
}

#define REF_THREADS 4
#define REF_ROUNDS 20000

static gpointer ref_unref_thread(gpointer opaque)
{
    for (int i = 0; i < REF_ROUNDS; i++) {
        object_ref(opaque);
        object_unref(opaque);
    }
    return NULL;
}

static void test_refcount_threads(void)
{
    Object *obj = object_new(TYPE_TEST_DOG);
    GThread *threads[REF_THREADS];
    g_autofree char *log = NULL;

    clear_log();
    for (int i = 0; i < REF_THREADS; i++) {
        threads[i] = g_thread_new("ref", ref_unref_thread, obj);
    }
    for (int i = 0; i < REF_THREADS; i++) {
        g_thread_join(threads[i]);
    }
    g_assert_cmpuint(obj->ref, ==, 1);
    g_assert_cmpuint(event_log->len, ==, 0);
    object_unref(obj);
    log = take_log();
    g_assert_cmpstr(log, ==, "dog-fin,animal-fin");
}

static gpointer racer_thread(gpointer opaque)
{
    Object *obj = object_new(TYPE_TEST_RACER);

    /* The class is complete by the time anyone can use it. */
    g_assert_cmpint(__atomic_load_n(&racer_class_inits, __ATOMIC_SEQ_CST),
                    ==, 1);
    g_assert_cmpstr(TEST_NAMED_GET_CLASS(obj)->describe(obj), ==, "a dog");
    g_assert_true(TEST_ANIMAL_GET_CLASS(obj)->speak == dog_speak);
    object_unref(obj);
    return NULL;
}

static void test_class_init_threads(void)
{
    GThread *threads[REF_THREADS];

    for (int i = 0; i < REF_THREADS; i++) {
        threads[i] = g_thread_new("racer", racer_thread, NULL);
    }
    for (int i = 0; i < REF_THREADS; i++) {
        g_thread_join(threads[i]);
    }
    g_assert_cmpint(racer_class_inits, ==, 1);
    /* A subclass re-declaring an inherited interface gets one copy. */
    g_assert_cmpuint(g_slist_length(
                         object_class_by_name(TYPE_TEST_RACER)->interfaces),
                     ==, 1);
    clear_log();
}

/* Tests: properties. */

/* Parses @value into @name, then reads it back as text. */
static void assert_parse_print(Object *obj, const char *name,
                               const char *value, const char *printed)
{
    g_autofree char *text = NULL;

    g_assert_true(object_property_parse(obj, name, value, &error_abort));
    text = object_property_print(obj, name, false, &error_abort);
    g_assert_cmpstr(text, ==, printed);
}

static void test_property_parse(void)
{
    g_autoptr(Object) obj = object_new(TYPE_TEST_BACKEND);
    TestBackend *tb = TEST_BACKEND(obj);
    g_autofree char *human = NULL;

    assert_parse_print(obj, "path", "/var/a,b", "/var/a,b");
    g_assert_cmpstr(tb->path, ==, "/var/a,b");

    assert_parse_print(obj, "readonly", "on", "on");
    g_assert_true(tb->readonly);
    assert_parse_print(obj, "readonly", "false", "off");
    g_assert_false(tb->readonly);
    assert_parse_print(obj, "readonly", "yes", "on");
    assert_parse_print(obj, "readonly", "no", "off");
    assert_parse_print(obj, "readonly", "true", "on");
    assert_parse_print(obj, "readonly", "off", "off");

    assert_parse_print(obj, "mode", "safe", "safe");
    g_assert_cmpint(tb->mode, ==, TEST_MODE_SAFE);

    assert_parse_print(obj, "u8", "255", "255");
    g_assert_cmpuint(tb->u8, ==, 255);
    assert_parse_print(obj, "u16", "0xffff", "65535");
    g_assert_cmpuint(tb->u16, ==, 65535);
    assert_parse_print(obj, "u32", "010", "10");
    g_assert_cmpuint(tb->u32, ==, 10);
    assert_parse_print(obj, "u64", "18446744073709551615",
                       "18446744073709551615");
    g_assert_cmpuint(tb->u64, ==, UINT64_MAX);
    assert_parse_print(obj, "i32", "-2147483648", "-2147483648");
    g_assert_cmpint(tb->i32, ==, INT32_MIN);
    assert_parse_print(obj, "i64", "-0x10", "-16");
    g_assert_cmpint(tb->i64, ==, -16);

    g_assert_cmpuint(tb->buf_size, ==, 4096);
    assert_parse_print(obj, "buf-size", "64k", "65536");
    g_assert_cmpuint(tb->buf_size, ==, 65536);
    assert_parse_print(obj, "buf-size", "1.5G", "1610612736");
    human = object_property_print(obj, "buf-size", true, &error_abort);
    g_assert_cmpstr(human, ==, "1.5 GiB");

    assert_parse_print(obj, "level", "-10", "-10");
    g_assert_cmpint(tb->level, ==, -10);
    assert_parse_print(obj, "max-conn", "1000", "1000");
    g_assert_cmpuint(tb->max_conn, ==, 1000);
    assert_parse_print(obj, "limit", "2M", "2097152");
    g_assert_cmpuint(tb->limit, ==, 2 * 1024 * 1024);

    /* The size kind accepts plain numbers too; the uint kind no suffix. */
    assert_parse_print(obj, "limit", "100", "100");
}

static void test_property_typed_access(void)
{
    g_autoptr(Object) obj = object_new(TYPE_TEST_BACKEND);
    TestBackend *tb = TEST_BACKEND(obj);
    g_autofree char *path = NULL;
    g_autofree char *mode = NULL;
    g_autofree char *state = NULL;

    g_assert_true(object_property_set_str(obj, "path", "/p", &error_abort));
    path = object_property_get_str(obj, "path", &error_abort);
    g_assert_cmpstr(path, ==, "/p");

    /* Enums read and write as strings. */
    g_assert_true(object_property_set_str(obj, "mode", "fast",
                                          &error_abort));
    g_assert_cmpint(tb->mode, ==, TEST_MODE_FAST);
    mode = object_property_get_str(obj, "mode", &error_abort);
    g_assert_cmpstr(mode, ==, "fast");

    g_assert_true(object_property_set_bool(obj, "readonly", true,
                                           &error_abort));
    g_assert_true(object_property_get_bool(obj, "readonly", &error_abort));

    g_assert_true(object_property_set_int(obj, "i64", -5, &error_abort));
    g_assert_cmpint(object_property_get_int(obj, "i64", &error_abort),
                    ==, -5);
    g_assert_true(object_property_set_int(obj, "u32", 77, &error_abort));
    g_assert_cmpuint(object_property_get_uint(obj, "u32", &error_abort),
                     ==, 77);
    g_assert_cmpint(object_property_get_int(obj, "u32", &error_abort),
                    ==, 77);
    g_assert_true(object_property_set_uint(obj, "level", 9, &error_abort));
    g_assert_cmpint(tb->level, ==, 9);
    g_assert_true(object_property_set_uint(obj, "buf-size", 1 << 20,
                                           &error_abort));
    g_assert_cmpuint(tb->buf_size, ==, 1 << 20);

    state = object_property_get_str(obj, "state", &error_abort);
    g_assert_cmpstr(state, ==, "new");

    g_assert_nonnull(object_property_find(obj, "path"));
    g_assert_null(object_property_find(obj, "nope"));
    g_assert_cmpstr(object_property_find(obj, "buf-size")->type, ==, "size");
    g_assert_cmpstr(object_property_find(obj, "u16")->type, ==, "uint16");
    g_assert_cmpint(object_property_find(obj, "mode")->kind, ==,
                    OBJ_PROP_KIND_ENUM);
    g_assert_cmpstr(object_property_find(obj, "path")->description, ==,
                    "where the data lives");
}

/* @call, given &err_ as errp, must fail with @message. */
#define ASSERT_PROP_ERROR(call, message)                                \
    do {                                                                \
        Error *err_ = NULL;                                             \
        (void)(call);                                                   \
        g_assert_nonnull(err_);                                         \
        g_assert_cmpstr(error_get_pretty(err_), ==, (message));         \
        error_free(err_);                                               \
    } while (0)

static void test_property_errors(void)
{
    g_autoptr(Object) obj = object_new(TYPE_TEST_BACKEND);
    TestBackend *tb = TEST_BACKEND(obj);

    ASSERT_PROP_ERROR(object_property_parse(obj, "color", "red", &err_),
                      "Property 'test-backend.color' not found");
    ASSERT_PROP_ERROR(object_property_parse(obj, "readonly", "maybe",
                                            &err_),
                      "Property 'test-backend.readonly' expects a boolean "
                      "(on/off, yes/no, true/false), got 'maybe'");
    ASSERT_PROP_ERROR(object_property_parse(obj, "mode", "slow", &err_),
                      "Property 'test-backend.mode' does not accept 'slow' "
                      "(expected one of 'none', 'fast', 'safe')");
    ASSERT_PROP_ERROR(object_property_parse(obj, "u8", "256", &err_),
                      "Property 'test-backend.u8' value 256 is out of "
                      "range (0 to 255)");
    ASSERT_PROP_ERROR(object_property_parse(obj, "u8", "-1", &err_),
                      "Property 'test-backend.u8' value -1 is out of "
                      "range (0 to 255)");
    ASSERT_PROP_ERROR(object_property_parse(obj, "u64",
                                            "18446744073709551616", &err_),
                      "Property 'test-backend.u64' value "
                      "18446744073709551616 is out of range "
                      "(0 to 18446744073709551615)");
    ASSERT_PROP_ERROR(object_property_parse(obj, "i32", "2147483648",
                                            &err_),
                      "Property 'test-backend.i32' value 2147483648 is out "
                      "of range (-2147483648 to 2147483647)");
    ASSERT_PROP_ERROR(object_property_parse(obj, "u32", "12k", &err_),
                      "Property 'test-backend.u32' expects a non-negative "
                      "integer, got '12k'");
    ASSERT_PROP_ERROR(object_property_parse(obj, "i64", "ten", &err_),
                      "Property 'test-backend.i64' expects an integer, "
                      "got 'ten'");
    ASSERT_PROP_ERROR(object_property_parse(obj, "buf-size", "1.5", &err_),
                      "Property 'test-backend.buf-size' expects a size (a "
                      "number with an optional k/M/G/T suffix), got '1.5'");
    ASSERT_PROP_ERROR(object_property_parse(obj, "limit", "16E", &err_),
                      "Property 'test-backend.limit' value 16E is out of "
                      "range (0 to 18446744073709551615)");
    ASSERT_PROP_ERROR(object_property_parse(obj, "level", "11", &err_),
                      "Property 'test-backend.level' value 11 is out of "
                      "range (-10 to 10)");
    ASSERT_PROP_ERROR(object_property_parse(obj, "max-conn", "1001", &err_),
                      "Property 'test-backend.max-conn' value 1001 is out "
                      "of range (0 to 1000)");
    /* Errors from setters come through unchanged. */
    ASSERT_PROP_ERROR(object_property_parse(obj, "level", "7", &err_),
                      "level 7 is reserved");
    ASSERT_PROP_ERROR(object_property_parse(obj, "path", "", &err_),
                      "path must not be empty");
    ASSERT_PROP_ERROR(object_property_parse(obj, "state", "x", &err_),
                      "Property 'test-backend.state' is read-only");
    ASSERT_PROP_ERROR(object_property_parse(obj, "generation", "1", &err_),
                      "Property 'test-backend.generation' is read-only");
    ASSERT_PROP_ERROR(object_property_get_str(obj, "secret", &err_),
                      "Property 'test-backend.secret' is write-only");
    ASSERT_PROP_ERROR(object_property_set_bool(obj, "path", true, &err_),
                      "Property 'test-backend.path' is of type 'string', "
                      "not a boolean");
    ASSERT_PROP_ERROR(object_property_get_int(obj, "mode", &err_),
                      "Property 'test-backend.mode' is of type 'enum', not "
                      "an integer");
    ASSERT_PROP_ERROR(object_property_set_str(obj, "u8", "1", &err_),
                      "Property 'test-backend.u8' is of type 'uint8', not "
                      "a string");
    ASSERT_PROP_ERROR(object_property_set_int(obj, "u8", -1, &err_),
                      "Property 'test-backend.u8' value -1 is out of range "
                      "(0 to 255)");
    g_assert_true(object_property_set_uint(obj, "u64", UINT64_MAX,
                                           &error_abort));
    ASSERT_PROP_ERROR(object_property_get_int(obj, "u64", &err_),
                      "Property 'test-backend.u64' value "
                      "18446744073709551615 does not fit in a signed "
                      "integer");
    g_assert_true(object_property_set_int(obj, "i32", -3, &error_abort));
    ASSERT_PROP_ERROR(object_property_get_uint(obj, "i32", &err_),
                      "Property 'test-backend.i32' value -3 is negative");

    /* Nothing changed through the failures. */
    g_assert_cmpint(tb->level, ==, 0);
    g_assert_cmpuint(tb->u8, ==, 0);
    g_assert_null(tb->path);
    g_assert_false(tb->readonly);
    g_assert_cmpint(tb->mode, ==, TEST_MODE_NONE);
}

static bool dyn_flag;

static bool get_dyn_flag(Object *obj, Error **errp)
{
    return dyn_flag;
}

static void set_dyn_flag(Object *obj, bool value, Error **errp)
{
    dyn_flag = value;
}

static char *get_dyn_name(Object *obj, Error **errp)
{
    return g_strdup("dyn");
}

static int dyn_mode;

static int get_dyn_mode(Object *obj, Error **errp)
{
    return dyn_mode;
}

static void set_dyn_mode(Object *obj, int value, Error **errp)
{
    dyn_mode = value;
}

static void test_property_per_object(void)
{
    g_autoptr(Object) obj = object_new(TYPE_TEST_DOG);
    g_autoptr(Object) other = object_new(TYPE_TEST_DOG);
    uint8_t u8 = 0;
    uint16_t u16 = 0;
    uint32_t u32 = 0;
    uint64_t u64 = 0;
    g_autofree char *name = NULL;
    ObjectPropertyIterator iter;
    ObjectProperty *prop;
    int count = 0;

    object_property_add_bool(obj, "flag", get_dyn_flag, set_dyn_flag);
    object_property_add_str(obj, "name", get_dyn_name, NULL);
    object_property_add_enum(obj, "mode", test_mode_lookup, get_dyn_mode,
                             set_dyn_mode);
    object_property_add_uint8_ptr(obj, "u8", &u8, OBJ_PROP_FLAG_READWRITE);
    object_property_add_uint16_ptr(obj, "u16", &u16,
                                   OBJ_PROP_FLAG_READWRITE);
    object_property_add_uint32_ptr(obj, "u32", &u32, OBJ_PROP_FLAG_READ);
    object_property_add_uint64_ptr(obj, "u64", &u64,
                                   OBJ_PROP_FLAG_READWRITE);
    object_property_set_description(obj, "flag", "a flag");

    g_assert_true(object_property_parse(obj, "flag", "on", &error_abort));
    g_assert_true(dyn_flag);
    g_assert_true(object_property_parse(obj, "mode", "fast", &error_abort));
    g_assert_cmpint(dyn_mode, ==, TEST_MODE_FAST);
    g_assert_true(object_property_parse(obj, "u8", "200", &error_abort));
    g_assert_cmpuint(u8, ==, 200);
    g_assert_true(object_property_parse(obj, "u16", "0x1234",
                                        &error_abort));
    g_assert_cmpuint(u16, ==, 0x1234);
    g_assert_true(object_property_parse(obj, "u64", "5", &error_abort));
    g_assert_cmpuint(u64, ==, 5);
    u32 = 99;
    g_assert_cmpuint(object_property_get_uint(obj, "u32", &error_abort),
                     ==, 99);
    ASSERT_PROP_ERROR(object_property_parse(obj, "u32", "1", &err_),
                      "Property 'test-dog.u32' is read-only");
    name = object_property_get_str(obj, "name", &error_abort);
    g_assert_cmpstr(name, ==, "dyn");
    g_assert_cmpstr(object_property_find(obj, "flag")->description, ==,
                    "a flag");

    /* Only this object has them. */
    g_assert_null(object_property_find(other, "flag"));
    ASSERT_PROP_ERROR(object_property_parse(other, "flag", "on", &err_),
                      "Property 'test-dog.flag' not found");

    object_property_iter_init(&iter, obj);
    while ((prop = object_property_iter_next(&iter))) {
        count++;
    }
    g_assert_cmpint(count, ==, 7);

    object_property_del(obj, "flag");
    g_assert_null(object_property_find(obj, "flag"));
    clear_log();
}

static void test_class_property_iter(void)
{
    ObjectPropertyIterator iter;
    ObjectProperty *prop;
    int count = 0;
    bool saw_path = false;

    object_class_property_iter_init(&iter,
                                    object_class_by_name(TYPE_TEST_BACKEND));
    while ((prop = object_property_iter_next(&iter))) {
        count++;
        saw_path |= strcmp(prop->name, "path") == 0;
    }
    g_assert_cmpint(count, ==, 18);
    g_assert_true(saw_path);
}

/* Tests: composition. */

static void test_composition(void)
{
    Object *root = object_get_root();
    Object *objects = object_get_objects_root();
    Object *box = object_new(TYPE_CONTAINER);
    Object *dog = object_new(TYPE_TEST_DOG);
    Object *puppy = object_new(TYPE_TEST_PUPPY);
    Object *stray;
    g_autofree char *path = NULL;
    g_autofree char *objects_path = NULL;
    g_autofree char *root_path = NULL;
    g_autofree char *child_str = NULL;
    g_autofree char *log = NULL;
    Error *err = NULL;
    bool ambiguous;

    clear_log();
    g_assert_true(object_get_objects_root() == objects);
    g_assert_true(object_get_parent(objects) == root);
    objects_path = object_get_canonical_path(objects);
    g_assert_cmpstr(objects_path, ==, "/objects");
    root_path = object_get_canonical_path(root);
    g_assert_cmpstr(root_path, ==, "/");
    g_assert_null(object_get_canonical_path_component(root));

    object_property_add_child(root, "test-box", box);
    object_unref(box);
    object_property_add_child(box, "rex", dog);
    object_property_add_child(box, "fido", puppy);
    object_unref(puppy);

    g_assert_cmpstr(object_get_canonical_path_component(dog), ==, "rex");
    path = object_get_canonical_path(puppy);
    g_assert_cmpstr(path, ==, "/test-box/fido");
    g_assert_true(object_resolve_path_component(box, "rex") == dog);
    g_assert_null(object_resolve_path_component(box, "nobody"));
    child_str = object_property_get_str(box, "fido", &error_abort);
    g_assert_cmpstr(child_str, ==, "/test-box/fido");
    g_assert_cmpstr(object_property_find(box, "rex")->type, ==,
                    "child<test-dog>");

    g_assert_true(object_resolve_path("/test-box/rex", NULL) == dog);
    g_assert_true(object_resolve_path("rex", &ambiguous) == dog);
    g_assert_false(ambiguous);
    g_assert_null(object_resolve_path("/test-box/nobody", NULL));
    g_assert_null(object_resolve_path("nobody", &ambiguous));
    g_assert_false(ambiguous);

    /* The same name under two parents is ambiguous as a partial path. */
    container_get(root, "/test-box/kennel/rex");
    g_assert_null(object_resolve_path("rex", &ambiguous));
    g_assert_true(ambiguous);
    g_assert_true(object_resolve_path("test-box/rex", &ambiguous) == dog);
    g_assert_false(ambiguous);
    g_assert_true(container_get(root, "test-box/kennel") ==
                  object_resolve_path("/test-box/kennel", NULL));

    /* Names are unique per parent. */
    stray = object_new(TYPE_CONTAINER);
    g_assert_null(object_property_try_add_child(box, "rex", stray, &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "Object of type 'container' "
                    "already has a property named 'rex'");
    error_free(err);
    g_assert_null(object_get_parent(stray));
    g_assert_cmpuint(stray->ref, ==, 1);
    object_unref(stray);

    /* Unparenting drops the parent's reference only. */
    object_unparent(dog);
    g_assert_null(object_get_parent(dog));
    g_assert_null(object_resolve_path_component(box, "rex"));
    g_assert_cmpuint(event_log->len, ==, 0);
    object_unref(dog);
    log = take_log();
    g_assert_cmpstr(log, ==, "dog-fin,animal-fin");
    g_clear_pointer(&log, g_free);

    /* Finalizing a parent releases its children. */
    object_unparent(box);
    log = take_log();
    g_assert_cmpstr(log, ==, "puppy-fin,dog-fin,animal-fin");
    g_assert_null(object_resolve_path("/test-box", NULL));
}

static int collect_names(Object *child, void *opaque)
{
    GString *names = opaque;
    g_autofree char *name =
        g_strdup(object_get_canonical_path_component(child));

    g_string_append_printf(names, "%s;", name);
    if (strcmp(name, "b") == 0) {
        /* Removing the visited child is allowed. */
        object_unparent(child);
        g_assert_null(object_get_canonical_path_component(child));
    }
    return strcmp(name, "d") == 0;
}

static void test_child_foreach(void)
{
    g_autoptr(Object) box = object_new(TYPE_CONTAINER);
    g_autoptr(GString) names = g_string_new(NULL);
    const char *order[] = { "c", "a", "b", "d", "e" };

    for (size_t i = 0; i < G_N_ELEMENTS(order); i++) {
        g_autoptr(Object) child = object_new(TYPE_CONTAINER);

        object_property_add_child(box, order[i], child);
    }
    /* Creation order, and a non-zero return stops the walk. */
    g_assert_cmpint(object_child_foreach(box, collect_names, names), ==, 1);
    g_assert_cmpstr(names->str, ==, "c;a;b;d;");
    g_assert_null(object_resolve_path_component(box, "b"));
}

static void test_new_with_props(void)
{
    Object *parent = object_get_objects_root();
    Object *obj;
    Error *err = NULL;

    obj = object_new_with_props(TYPE_TEST_BACKEND, parent, "props0",
                                &error_abort, "path", "/np", "u16", "7",
                                "mode", "safe", NULL);
    g_assert_true(object_resolve_path_component(parent, "props0") == obj);
    g_assert_cmpstr(TEST_BACKEND(obj)->path, ==, "/np");
    g_assert_cmpuint(TEST_BACKEND(obj)->u16, ==, 7);
    g_assert_cmpint(TEST_BACKEND(obj)->completed, ==, 1);

    g_assert_null(object_new_with_props(TYPE_TEST_BACKEND, parent, "props1",
                                        &err, "u16", "70000", NULL));
    g_assert_cmpstr(error_get_pretty(err), ==, "Property 'test-backend.u16' "
                    "value 70000 is out of range (0 to 65535)");
    error_free(err);
    err = NULL;
    g_assert_null(object_new_with_props("nope", NULL, NULL, &err, NULL));
    g_assert_cmpstr(error_get_pretty(err), ==, "Unknown object type 'nope'");
    error_free(err);
    g_assert_null(object_resolve_path_component(parent, "props1"));

    /* Without parent the caller owns the object. */
    obj = object_new_with_props(TYPE_TEST_DOG, NULL, NULL, &error_abort,
                                NULL);
    g_assert_null(object_get_parent(obj));
    object_unref(obj);

    g_assert_true(user_creatable_del("props0", &error_abort));
    clear_log();
}

/* Tests: user-creatable objects. */

static TestBackend *find_backend(const char *id)
{
    Object *obj = object_resolve_path_component(object_get_objects_root(),
                                                id);

    return obj ? TEST_BACKEND(obj) : NULL;
}

static void test_uc_add_from_str(void)
{
    int live = live_backends;
    TestBackend *tb;
    g_autofree char *path = NULL;
    g_autofree char *log = NULL;

    g_assert_true(user_creatable_add_from_str(
                      "test-backend,id=disk0,path=/img,,1,readonly=on,"
                      "mode=fast,u32=0x10,buf-size=64k,level=-3",
                      &error_abort));
    tb = find_backend("disk0");
    g_assert_nonnull(tb);
    g_assert_cmpstr(tb->path, ==, "/img,1");
    g_assert_true(tb->readonly);
    g_assert_cmpint(tb->mode, ==, TEST_MODE_FAST);
    g_assert_cmpuint(tb->u32, ==, 16);
    g_assert_cmpuint(tb->buf_size, ==, 65536);
    g_assert_cmpint(tb->level, ==, -3);
    g_assert_cmpint(tb->completed, ==, 1);
    g_assert_cmpstr(object_get_canonical_path_component(OBJECT(tb)), ==,
                    "disk0");
    path = object_get_canonical_path(OBJECT(tb));
    g_assert_cmpstr(path, ==, "/objects/disk0");
    /* /objects holds the only reference. */
    g_assert_cmpuint(OBJECT(tb)->ref, ==, 1);
    g_assert_cmpint(live_backends, ==, live + 1);

    /* The qom-type= form. */
    g_assert_true(user_creatable_add_from_str(
                      "qom-type=test-backend,id=disk1,path=/two",
                      &error_abort));
    g_assert_cmpstr(find_backend("disk1")->path, ==, "/two");

    /* Deletion. */
    g_assert_true(user_creatable_del("disk1", &error_abort));
    g_assert_null(find_backend("disk1"));
    log = take_log();
    g_assert_cmpstr(log, ==, "/two");
    g_assert_true(user_creatable_del("disk0", &error_abort));
    g_assert_cmpint(live_backends, ==, live);
    clear_log();
}

/*
 * user_creatable_add_from_str(@str) must fail with @message and leave
 * nothing behind.
 */
static void assert_add_error(const char *str, const char *message)
{
    int live = live_backends;
    Error *err = NULL;

    g_assert_false(user_creatable_add_from_str(str, &err));
    g_assert_nonnull(err);
    g_assert_cmpstr(error_get_pretty(err), ==, message);
    error_free(err);
    g_assert_cmpint(live_backends, ==, live);
    g_assert_null(find_backend("bad"));
}

static void test_uc_add_errors(void)
{
    g_assert_true(user_creatable_add_from_str("test-backend,id=taken",
                                              &error_abort));

    assert_add_error("no-such-type,id=bad",
                     "Unknown object type 'no-such-type'");
    assert_add_error("test-backend,id=bad,color=red",
                     "Property 'test-backend.color' not found");
    assert_add_error("test-backend,id=bad,readonly=maybe",
                     "Property 'test-backend.readonly' expects a boolean "
                     "(on/off, yes/no, true/false), got 'maybe'");
    assert_add_error("test-backend,id=taken",
                     "An object with id 'taken' already exists");
    assert_add_error("test-backend,path=/x",
                     "Parameter 'id' is missing");
    assert_add_error("id=bad", "Parameter 'qom-type' is missing");
    assert_add_error("test-abstract-backend,id=bad",
                     "Object type 'test-abstract-backend' is abstract");
    assert_add_error("test-dog,id=bad",
                     "Object type 'test-dog' is not user-creatable");
    assert_add_error("test-backend,id=1bad", "Invalid object id '1bad'");
    assert_add_error("test-backend,id=b@d", "Invalid object id 'b@d'");
    assert_add_error("test-backend,id=bad,path=/p,fail-complete=on",
                     "backend at '/p' refuses to start");
    assert_add_error("test-backend,id=bad,id=again",
                     "Parameter 'id' is given more than once");
    assert_add_error("test-backend,id=bad,novalue",
                     "Parameter 'novalue' has no value "
                     "(expected 'novalue=VALUE')");
    assert_add_error("test-backend,id=bad,u8=300",
                     "Property 'test-backend.u8' value 300 is out of range "
                     "(0 to 255)");

    /* The id check comes with a hint. */
    {
        Error *err = NULL;

        g_assert_false(user_creatable_add_from_str("test-backend,id=_x",
                                                   &err));
        g_assert_cmpstr(error_get_hint(err), ==, "An id starts with a "
                        "letter and goes on with letters, digits, '-', "
                        "'.' and '_'.\n");
        error_free(err);
    }

    /* The failures left the first object alone. */
    g_assert_cmpint(find_backend("taken")->completed, ==, 1);
    g_assert_true(user_creatable_del("taken", &error_abort));
    clear_log();
}

static void test_uc_add_type(void)
{
    g_autoptr(KeyVal) props = keyval_parse("path=/kv,u64=12", NULL,
                                           &error_abort);
    Object *obj;

    obj = user_creatable_add_type(TYPE_TEST_BACKEND, "kv0", props,
                                  &error_abort);
    /* A reference for us, one for /objects. */
    g_assert_cmpuint(obj->ref, ==, 2);
    g_assert_cmpuint(TEST_BACKEND(obj)->u64, ==, 12);
    g_assert_true(keyval_check_unused(props, NULL, &error_abort));
    object_unref(obj);

    /* No id: not in the tree, the caller's only. */
    obj = user_creatable_add_type(TYPE_TEST_BACKEND, NULL, NULL,
                                  &error_abort);
    g_assert_null(object_get_parent(obj));
    g_assert_cmpint(TEST_BACKEND(obj)->completed, ==, 1);
    object_unref(obj);

    g_assert_true(user_creatable_del("kv0", &error_abort));
    clear_log();
}

static void test_uc_del(void)
{
    Error *err = NULL;
    TestBackend *tb;

    g_assert_false(user_creatable_del("ghost", &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "Object 'ghost' not found");
    error_free(err);
    err = NULL;

    g_assert_true(user_creatable_add_from_str("test-backend,id=busy0,busy=on",
                                              &error_abort));
    g_assert_false(user_creatable_del("busy0", &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Object 'busy0' is in use and can't be deleted");
    error_free(err);
    tb = find_backend("busy0");
    g_assert_nonnull(tb);
    tb->busy = false;
    g_assert_true(user_creatable_del("busy0", &error_abort));
    g_assert_null(find_backend("busy0"));
    clear_log();
}

static void test_uc_cleanup(void)
{
    int live = live_backends;
    g_autofree char *log = NULL;

    clear_log();
    g_assert_true(user_creatable_add_from_str("test-backend,id=c1,path=one",
                                              &error_abort));
    g_assert_true(user_creatable_add_from_str("test-backend,id=c2,path=two",
                                              &error_abort));
    g_assert_true(user_creatable_add_from_str("test-backend,id=c3,"
                                              "path=three", &error_abort));
    g_assert_cmpint(live_backends, ==, live + 3);
    user_creatable_cleanup();
    g_assert_cmpint(live_backends, ==, live);
    log = take_log();
    g_assert_cmpstr(log, ==, "three,two,one");
    g_assert_nonnull(object_get_objects_root());
}

static void test_uc_help_types(void)
{
    if (g_test_subprocess()) {
        Error *err = NULL;

        g_assert_false(user_creatable_add_from_str("help", &err));
        g_assert_null(err);
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed();
    g_test_trap_assert_stdout("List of user creatable objects:\n"
                              "*  test-backend\n*");
    g_test_trap_assert_stdout_unmatched("*test-abstract-backend*");
    g_test_trap_assert_stdout_unmatched("*test-dog*");
}

static void test_uc_help_props(void)
{
    if (g_test_subprocess()) {
        Error *err = NULL;

        g_assert_false(user_creatable_add_from_str("test-backend,help",
                                                   &err));
        g_assert_null(err);
        /* Help for a type that does not exist is an error. */
        g_assert_false(user_creatable_add_from_str("nope,help", &err));
        g_assert_cmpstr(error_get_pretty(err), ==,
                        "Unknown object type 'nope'");
        error_free(err);
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed();
    g_test_trap_assert_stdout("test-backend options:\n"
                              "  buf-size=<size>\n"
                              "  busy=<on|off>\n"
                              "*  mode=<none|fast|safe>\n"
                              "*  path=<string> - where the data lives\n"
                              "*  u8=<uint8>\n");
}

/*
 * In a test's subprocess: runs @fn in a child process and prints on
 * stdout how it ended ("exit=N" or "signal=N").
 */
static void run_and_print_status(void (*fn)(void))
{
    int status;
    pid_t pid;

    fflush(stdout);
    fflush(stderr);
    pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        fn();
        _exit(0);
    }
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    if (WIFEXITED(status)) {
        printf("exit=%d\n", WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        printf("signal=%d\n", WTERMSIG(status));
    }
}

static void cmdline_error_child(void)
{
    user_creatable_process_cmdline("test-backend,id=x,color=red");
    g_assert_not_reached();
}

static void test_uc_process_cmdline_error(void)
{
    if (g_test_subprocess()) {
        run_and_print_status(cmdline_error_child);
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed();
    g_test_trap_assert_stderr("*: Property 'test-backend.color' not "
                              "found\n");
    g_test_trap_assert_stdout("exit=1\n");
}

static void cmdline_help_child(void)
{
    user_creatable_process_cmdline("help");
    g_assert_not_reached();
}

static void test_uc_process_cmdline_help(void)
{
    if (g_test_subprocess()) {
        run_and_print_status(cmdline_help_child);
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed();
    g_test_trap_assert_stdout("List of user creatable objects:\n*"
                              "exit=0\n");
}

static void test_uc_process_cmdline_ok(void)
{
    user_creatable_process_cmdline("test-backend,id=cmd0,mode=safe");
    g_assert_cmpint(find_backend("cmd0")->mode, ==, TEST_MODE_SAFE);
    g_assert_true(user_creatable_del("cmd0", &error_abort));
    clear_log();
}

int main(int argc, char **argv)
{
    int ret;

    event_log = g_string_new(NULL);
    class_init_order = g_ptr_array_new();
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/qom/object/class-chain", test_class_chain);
    g_test_add_func("/qom/object/lifecycle", test_lifecycle);
    g_test_add_func("/qom/object/autoptr", test_autoptr);
    g_test_add_func("/qom/object/initialize-embedded",
                    test_initialize_embedded);
    g_test_add_func("/qom/object/cast", test_cast);
    g_test_add_func("/qom/object/cast-fail", test_cast_fail);
    g_test_add_func("/qom/object/class-cast-fail", test_class_cast_fail);
    g_test_add_func("/qom/object/new-abstract", test_new_abstract);
    g_test_add_func("/qom/object/interface", test_interface);
    /* Before class-list, which makes every class. */
    g_test_add_func("/qom/object/class-init-threads",
                    test_class_init_threads);
    g_test_add_func("/qom/object/class-list", test_class_list);
    g_test_add_func("/qom/object/refcount-threads", test_refcount_threads);
    g_test_add_func("/qom/property/parse", test_property_parse);
    g_test_add_func("/qom/property/typed-access",
                    test_property_typed_access);
    g_test_add_func("/qom/property/errors", test_property_errors);
    g_test_add_func("/qom/property/per-object", test_property_per_object);
    g_test_add_func("/qom/property/class-iter", test_class_property_iter);
    g_test_add_func("/qom/composition/tree", test_composition);
    g_test_add_func("/qom/composition/child-foreach", test_child_foreach);
    g_test_add_func("/qom/composition/new-with-props", test_new_with_props);
    g_test_add_func("/qom/user-creatable/add-from-str",
                    test_uc_add_from_str);
    g_test_add_func("/qom/user-creatable/add-errors", test_uc_add_errors);
    g_test_add_func("/qom/user-creatable/add-type", test_uc_add_type);
    g_test_add_func("/qom/user-creatable/del", test_uc_del);
    g_test_add_func("/qom/user-creatable/cleanup", test_uc_cleanup);
    g_test_add_func("/qom/user-creatable/help-types", test_uc_help_types);
    g_test_add_func("/qom/user-creatable/help-props", test_uc_help_props);
    g_test_add_func("/qom/user-creatable/process-cmdline-error",
                    test_uc_process_cmdline_error);
    g_test_add_func("/qom/user-creatable/process-cmdline-help",
                    test_uc_process_cmdline_help);
    g_test_add_func("/qom/user-creatable/process-cmdline-ok",
                    test_uc_process_cmdline_ok);

    ret = g_test_run();

    /* Leave nothing behind for the leak checker. */
    user_creatable_cleanup();
    g_ptr_array_free(class_init_order, TRUE);
    g_string_free(event_log, TRUE);
    return ret;
}
